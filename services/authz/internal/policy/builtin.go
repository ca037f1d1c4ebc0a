package policy

import (
	"errors"
	"strings"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/types"
)

// The built-in functions the authz service adds to Rego:
//
//	agentidp.match_route(routes, method, segments)
//
// returns the first route of routes (objects with "method" and "path",
// e.g. {"method": "GET", "path": "/v1/agents/{agentId}"}) that matches the
// request method and path segments (input.parsed_path); it is undefined
// when none matches. A "{name}" segment matches any non-empty segment
// without a colon, "{name}:verb" a "<id>:verb" segment (Google API custom
// methods); other segments match themselves. Methods compare
// case-insensitively, segments exactly.
//
//	agentidp.path_params(path, segments)
//
// returns the values of a path template's variables in the segments
// ({"agentId": "..."}), undefined if they do not match.
//
// Written in Rego, the same matching cost most of a check (string splits
// and a loop per route, interpreted); in Go it is a small fraction of one,
// templates being parsed once, and match_route returns the route as it is
// (no new object). Figures: docs/authz.md, "Performance".
const (
	MatchRoute = "agentidp.match_route"
	PathParams = "agentidp.path_params"
)

func init() {
	rego.RegisterBuiltin3(&rego.Function{
		Name:        MatchRoute,
		Description: "Finds the first route (method and path template) a request matches.",
		Decl: types.NewFunction(
			types.Args(
				types.Named("routes", types.NewArray(nil, types.A)).Description("route objects with method and path"),
				types.Named("method", types.S).Description("the request method"),
				types.Named("segments", types.NewArray(nil, types.S)).Description("the request path's segments"),
			),
			types.Named("route", types.A).Description("the matching route"),
		),
	}, matchRoute)
	rego.RegisterBuiltin2(&rego.Function{
		Name:        PathParams,
		Description: "Extracts a path template's variables from path segments.",
		Decl: types.NewFunction(
			types.Args(
				types.Named("path", types.S).Description("the path template"),
				types.Named("segments", types.NewArray(nil, types.S)).Description("the request path's segments"),
			),
			types.Named("params", types.NewObject(nil, types.NewDynamicProperty(types.S, types.S))).Description("variable values"),
		),
	}, pathParams)
}

var (
	methodKey = ast.StringTerm("method")
	pathKey   = ast.StringTerm("path")
)

func matchRoute(_ rego.BuiltinContext, routesT, methodT, segmentsT *ast.Term) (*ast.Term, error) {
	routes, ok := routesT.Value.(*ast.Array)
	if !ok {
		return nil, errors.New(MatchRoute + ": routes must be an array")
	}
	method, ok := methodT.Value.(ast.String)
	if !ok {
		return nil, errors.New(MatchRoute + ": method must be a string")
	}
	segments, ok := stringsOf(segmentsT)
	if !ok {
		return nil, errors.New(MatchRoute + ": segments must be an array of strings")
	}
	for i := 0; i < routes.Len(); i++ {
		r := routes.Elem(i)
		obj, ok := r.Value.(ast.Object)
		if !ok {
			continue
		}
		m, ok1 := stringField(obj, methodKey)
		p, ok2 := stringField(obj, pathKey)
		if !ok1 || !ok2 || !strings.EqualFold(m, string(method)) {
			continue
		}
		if _, ok := parseTemplate(p).match(segments); ok {
			return r, nil
		}
	}
	return nil, nil
}

func pathParams(_ rego.BuiltinContext, pathT, segmentsT *ast.Term) (*ast.Term, error) {
	path, ok := pathT.Value.(ast.String)
	if !ok {
		return nil, errors.New(PathParams + ": path must be a string")
	}
	segments, ok := stringsOf(segmentsT)
	if !ok {
		return nil, errors.New(PathParams + ": segments must be an array of strings")
	}
	params, ok := parseTemplate(string(path)).match(segments)
	if !ok {
		return nil, nil
	}
	items := make([][2]*ast.Term, 0, len(params))
	for _, kv := range params {
		items = append(items, ast.Item(ast.StringTerm(kv[0]), ast.StringTerm(kv[1])))
	}
	return ast.ObjectTerm(items...), nil
}

func stringsOf(t *ast.Term) ([]string, bool) {
	arr, ok := t.Value.(*ast.Array)
	if !ok {
		return nil, false
	}
	out := make([]string, arr.Len())
	for i := range out {
		s, ok := arr.Elem(i).Value.(ast.String)
		if !ok {
			return nil, false
		}
		out[i] = string(s)
	}
	return out, true
}

func stringField(obj ast.Object, k *ast.Term) (string, bool) {
	v := obj.Get(k)
	if v == nil {
		return "", false
	}
	s, ok := v.Value.(ast.String)
	return string(s), ok
}

// template is a parsed path template.
type template []part

type part struct {
	literal string // when name == ""
	name    string // a variable
	verb    string // ":verb" after the variable, if any
}

var templates sync.Map // path template → template

func parseTemplate(path string) template {
	if t, ok := templates.Load(path); ok {
		return t.(template)
	}
	var t template
	for _, seg := range strings.Split(strings.TrimPrefix(path, "/"), "/") {
		if strings.HasPrefix(seg, "{") {
			if end := strings.IndexByte(seg, '}'); end > 1 {
				p := part{name: seg[1:end]}
				if rest := seg[end+1:]; strings.HasPrefix(rest, ":") && len(rest) > 1 {
					p.verb = rest
				} else if rest != "" {
					p = part{literal: seg} // not a variable after all
				}
				t = append(t, p)
				continue
			}
		}
		t = append(t, part{literal: seg})
	}
	templates.Store(path, t)
	return t
}

func (t template) match(segments []string) ([][2]string, bool) {
	if len(t) != len(segments) {
		return nil, false
	}
	var params [][2]string
	for i, p := range t {
		s := segments[i]
		if p.name == "" {
			if s != p.literal {
				return nil, false
			}
			continue
		}
		id := s
		if p.verb != "" {
			var ok bool
			if id, ok = strings.CutSuffix(s, p.verb); !ok {
				return nil, false
			}
		}
		if id == "" || strings.IndexByte(id, ':') >= 0 {
			return nil, false
		}
		params = append(params, [2]string{p.name, id})
	}
	return params, true
}
