package policy

import (
	"errors"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/types"
)

// ReboundParams is the built-in
//
//	agentidp.rebound_params(route, segments, query, body)
//
// which returns the names of the route's path variables that the query
// string (input.parsed_query) or the JSON body (input.parsed_body, null
// when there is none) binds to another value than the path's, sorted.
//
// Envoy's gRPC-JSON transcoder binds a request message from the path, then
// the query, then the body, and a later binding of the same field wins: a
// policy that decided on the path's {agentId} would otherwise let
// "GET /v1/agents/{self}?agentId={other}" reach the service with another
// agent's id. The route says which fields its variables bind and what the
// body is, as the proto's google.api.http rule does:
//
//	{"path": "/v1/agents/{agentId}", "body": "agent", "fields": {"agentId": "agent.agentId"}}
//
// "fields" maps a variable to its field path (default: the variable's
// name), "body" is the field the body binds ("*": the whole request;
// absent: no body). Field names compare in every spelling the transcoder
// accepts — the JSON name or the proto name, agentId or agent_id — and
// case-insensitively; values compare case-insensitively (ids are UUIDs,
// which the services parse so). A body value that is not a string (a
// number, null, an object) rebinds too: it cannot equal the path's.
const ReboundParams = "agentidp.rebound_params"

func init() {
	rego.RegisterBuiltin4(&rego.Function{
		Name:        ReboundParams,
		Description: "Names the path variables a request's query string or JSON body binds to another value than the path's.",
		Decl: types.NewFunction(
			types.Args(
				types.Named("route", types.A).Description("the route: path, and optionally body and fields"),
				types.Named("segments", types.NewArray(nil, types.S)).Description("the request path's segments"),
				types.Named("query", types.A).Description("input.parsed_query"),
				types.Named("body", types.A).Description("input.parsed_body, or null"),
			),
			types.Named("names", types.NewArray(nil, types.S)).Description("the rebound variables, sorted"),
		),
	}, reboundParams)
}

var (
	bodyKey   = ast.StringTerm("body")
	fieldsKey = ast.StringTerm("fields")
	noNames   = ast.ArrayTerm()
)

func reboundParams(_ rego.BuiltinContext, routeT, segmentsT, queryT, bodyT *ast.Term) (*ast.Term, error) {
	route, ok := routeT.Value.(ast.Object)
	if !ok {
		return nil, errors.New(ReboundParams + ": route must be an object")
	}
	path, ok := stringField(route, pathKey)
	if !ok {
		return nil, errors.New(ReboundParams + ": route.path must be a string")
	}
	segments, ok := stringsOf(segmentsT)
	if !ok {
		return nil, errors.New(ReboundParams + ": segments must be an array of strings")
	}
	params, ok := parseTemplate(path).match(segments)
	if !ok || len(params) == 0 {
		return noNames, nil
	}
	query, _ := queryT.Value.(ast.Object)
	bodyField, hasBody := stringField(route, bodyKey)
	var fields ast.Object
	if t := route.Get(fieldsKey); t != nil {
		fields, _ = t.Value.(ast.Object)
	}
	var names []string
	for _, kv := range params {
		name, value := kv[0], kv[1]
		field := name
		if fields != nil {
			if f, ok := stringField(fields, ast.StringTerm(name)); ok {
				field = f
			}
		}
		if queryRebinds(query, field, value) || (hasBody && bodyRebinds(bodyT.Value, bodyField, field, value)) {
			if !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
	}
	if len(names) == 0 {
		return noNames, nil
	}
	slices.Sort(names)
	terms := make([]*ast.Term, len(names))
	for i, n := range names {
		terms[i] = ast.StringTerm(n)
	}
	return ast.ArrayTerm(terms...), nil
}

// fieldName normalises a field name or path the way the transcoder's two
// spellings meet: lower case, without underscores.
func fieldName(s string) string {
	return strings.ToLower(strings.ReplaceAll(s, "_", ""))
}

func queryRebinds(query ast.Object, field, value string) bool {
	if query == nil {
		return false
	}
	want := fieldName(field)
	rebinds := false
	query.Foreach(func(k, v *ast.Term) {
		key, ok := k.Value.(ast.String)
		if !ok || fieldName(string(key)) != want {
			return
		}
		values, ok := v.Value.(*ast.Array)
		if !ok {
			rebinds = true
			return
		}
		values.Foreach(func(t *ast.Term) {
			if s, ok := t.Value.(ast.String); !ok || !strings.EqualFold(string(s), value) {
				rebinds = true
			}
		})
	})
	return rebinds
}

// bodyRebinds walks the body along field (relative to what the body binds)
// and reports whether any value found there differs from value.
func bodyRebinds(body ast.Value, bodyField, field, value string) bool {
	path := strings.Split(field, ".")
	if bodyField != "*" {
		prefix := strings.Split(bodyField, ".")
		if len(path) <= len(prefix) || !slices.EqualFunc(prefix, path[:len(prefix)], func(a, b string) bool { return fieldName(a) == fieldName(b) }) {
			return false // the body binds another field
		}
		path = path[len(prefix):]
	}
	return walkRebinds(body, path, value)
}

func walkRebinds(v ast.Value, path []string, value string) bool {
	if len(path) == 0 {
		s, ok := v.(ast.String)
		return !ok || !strings.EqualFold(string(s), value)
	}
	obj, ok := v.(ast.Object)
	if !ok {
		return false // nothing binds below a non-object (the transcoder refuses it)
	}
	want := fieldName(path[0])
	rebinds := false
	obj.Foreach(func(k, child *ast.Term) {
		if key, ok := k.Value.(ast.String); ok && fieldName(string(key)) == want && walkRebinds(child.Value, path[1:], value) {
			rebinds = true
		}
	})
	return rebinds
}
