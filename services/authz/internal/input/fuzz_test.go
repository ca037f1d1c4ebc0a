package input_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/sentryagent/agentidp/services/authz/internal/input"
)

// jsonFacts reads b with encoding/json's tokenizer: whether it is one JSON
// value, whether an object repeats a key, and how deep it nests.
func jsonFacts(b []byte) (valid, dupKey bool, depth int) {
	if !json.Valid(b) {
		return false, false, 0
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	type frame struct {
		obj  bool
		keys map[string]bool
		key  bool // the next string token is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return true, dupKey, depth
		}
		if err != nil {
			return false, false, 0
		}
		top := (*frame)(nil)
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				if top != nil && top.obj {
					top.key = true
				}
				stack = append(stack, &frame{obj: v == '{', keys: map[string]bool{}, key: v == '{'})
				depth = max(depth, len(stack))
			default:
				stack = stack[:len(stack)-1]
			}
			continue
		case string:
			if top != nil && top.obj && top.key {
				if top.keys[v] {
					dupKey = true
				}
				top.keys[v] = true
				top.key = false
				continue
			}
		}
		if top != nil && top.obj {
			top.key = true
		}
	}
}

// FuzzParseJSON: the policy reads a request body exactly as encoding/json
// (and so the services) would, or not at all: ParseJSON accepts only one
// valid JSON value without repeated keys, with the same content, and it
// accepts every such value that is not nested absurdly deep.
func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{`{"a":1,"b":[true,null,"x"],"c":{"d":2.5}}`, `{"scopes":["a"],"scopes":["b"]}`,
		`{"a":{"b":1,"b":2}}`, `[{"x":1},{"x":1}]`, `{"a":1} {"b":2}`, `{"a":1}x`, `"s"`, `1e400`, `-0`,
		`{"\u0061":1,"a":2}`, `{"a":"\udc00"}`, "{\"a\":\"\xff\"}", strings.Repeat("[", 70) + strings.Repeat("]", 70),
		`{"k":12345678901234567890123}`, ``, ` `, `nul`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := input.ParseJSON(b)
		valid, dup, depth := jsonFacts(b)
		if err != nil {
			if valid && !dup && depth <= 60 {
				t.Fatalf("ParseJSON(%q) refused a valid JSON value: %v", b, err)
			}
			if dup && !errors.Is(err, input.ErrDuplicateKey) && valid && depth <= 60 {
				t.Fatalf("ParseJSON(%q): %v, want ErrDuplicateKey", b, err)
			}
			return
		}
		if !valid || dup {
			t.Fatalf("ParseJSON(%q) accepted (valid %v, repeated key %v)", b, valid, dup)
		}
		got, err := ast.JSON(v)
		if err != nil {
			t.Fatalf("ast.JSON: %v", err)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var want any
		if err := dec.Decode(&want); err != nil {
			t.Fatal(err)
		}
		gb, _ := json.Marshal(got)
		wb, _ := json.Marshal(want)
		var g, w any
		gd, wd := json.NewDecoder(bytes.NewReader(gb)), json.NewDecoder(bytes.NewReader(wb))
		gd.UseNumber()
		wd.UseNumber()
		_, _ = gd.Decode(&g), wd.Decode(&w)
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("ParseJSON(%q) = %s, encoding/json reads %s", b, gb, wb)
		}
	})
}

// FuzzValidUTF8 checks input.ValidUTF8 against the standard library's
// strict percent-decoding of each path segment and query name and value:
// a component that decodes to invalid UTF-8 makes the request invalid,
// and a valid request gives the policy only UTF-8 strings.
func FuzzValidUTF8(f *testing.F) {
	for _, s := range []string{"/v1/agents", "/v1/agents/%ff", "/v1/agents?owner=%c3", "/v1/agents?owner=%c3%a9",
		"/v1/agents/%c0%ae%c0%ae/x", "/v1/agents?%ff=1", "/v1/agents?a=%zz%ff", "/v1/agents/%e2%82", "/v1/é",
		"/v1/agents?search=a+b&x=%2", "/v1/agents/\xff", "/v1/agents/%f0%9f%98%80", "/v1/agents/%ED%A0%80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		ok := input.ValidUTF8(p)
		bad := !utf8.ValidString(p)
		path, query, _ := strings.Cut(p, "?")
		for _, seg := range strings.Split(path, "/") {
			if d, err := url.PathUnescape(seg); err == nil && !utf8.ValidString(d) {
				bad = true
			}
		}
		for _, pair := range strings.Split(query, "&") {
			for _, part := range strings.Split(pair, "=") {
				if d, err := url.QueryUnescape(part); err == nil && !utf8.ValidString(d) {
					bad = true
				}
			}
		}
		if ok && bad {
			t.Fatalf("ValidUTF8(%q) = true, but a component decodes to invalid UTF-8", p)
		}
		if !ok {
			return
		}
		in, _ := input.Build(&input.Request{Method: "GET", Path: p, Headers: map[string]string{}}, nil, nil, nil)
		obj := in.(ast.Object)
		for _, key := range []string{"parsed_path", "parsed_query"} {
			var walkErr string
			ast.WalkTerms(obj.Get(ast.StringTerm(key)), func(term *ast.Term) bool {
				if s, isStr := term.Value.(ast.String); isStr && !utf8.ValidString(string(s)) {
					walkErr = string(s)
				}
				return false
			})
			if walkErr != "" {
				t.Fatalf("ValidUTF8(%q), yet the policy sees %q in %s", p, walkErr, key)
			}
		}
	})
}

// FuzzBuild: any request the gateway may describe becomes a policy input
// with the documented layout: the path split into segments, the query
// that parses, the token and request id never shown, a JSON body parsed
// only when it is one and complete.
func FuzzBuild(f *testing.F) {
	f.Add("GET", "/v1/agents?pageSize=1", "x-request-id", "r-1", `{"a":1}`, int64(7))
	f.Add("POST", "/v1/agents", "authorization", "Bearer x", `{"scopes":["a"],"scopes":["b"]}`, int64(-1))
	f.Add("PATCH", "/v1/agents/%41?updateMask=name&updateMask=owner", "content-length", "99999", `{"name":"x"}`, int64(99999))
	f.Add("", "", "", "", "", int64(0))
	f.Add("GET", "/?a=1&a=2&%zz=3", "x-envoy-auth-partial-body", "true", `[1,2]`, int64(5))
	f.Fuzz(func(t *testing.T, method, path, hk, hv, body string, size int64) {
		r := &input.Request{Method: method, Path: path, Headers: map[string]string{hk: hv}, Body: []byte(body), Size: size}
		v, parsed := input.Build(r, nil, nil, nil)
		obj, ok := v.(ast.Object)
		if !ok {
			t.Fatalf("input is %T", v)
		}
		pathOnly, rawQuery, _ := strings.Cut(path, "?")
		if parsed.PathOnly != pathOnly {
			t.Fatalf("PathOnly %q for %q", parsed.PathOnly, path)
		}
		http := obj.Get(ast.StringTerm("attributes")).Get(ast.StringTerm("request")).Get(ast.StringTerm("http"))
		if http == nil || http.Get(ast.StringTerm("path")).Value.Compare(ast.String(path)) != 0 ||
			http.Get(ast.StringTerm("method")).Value.Compare(ast.String(method)) != 0 {
			t.Fatalf("attributes.request.http of %q %q: %v", method, path, http)
		}
		headers := http.Get(ast.StringTerm("headers")).Value.(ast.Object)
		for _, h := range []string{"authorization", "x-request-id"} {
			if headers.Get(ast.StringTerm(h)) != nil {
				t.Fatalf("header %s reached the policy", h)
			}
		}
		segs := obj.Get(ast.StringTerm("parsed_path")).Value.(*ast.Array)
		if want := len(strings.Split(strings.TrimPrefix(pathOnly, "/"), "/")); segs.Len() != want {
			t.Fatalf("parsed_path of %q has %d segments, want %d", path, segs.Len(), want)
		}
		q := obj.Get(ast.StringTerm("parsed_query")).Value.(ast.Object)
		if rawQuery != "" {
			want, _ := url.ParseQuery(rawQuery)
			if q.Len() != len(want) {
				t.Fatalf("parsed_query of %q has %d keys, url.ParseQuery %d", rawQuery, q.Len(), len(want))
			}
			for k, vs := range want {
				arr, ok := q.Get(ast.StringTerm(k)).Value.(*ast.Array)
				if !ok || arr.Len() != len(vs) {
					t.Fatalf("parsed_query[%q] = %v, want %q", k, q.Get(ast.StringTerm(k)), vs)
				}
			}
		}
		if b := obj.Get(ast.StringTerm("parsed_body")); b != nil {
			if parsed.Truncated {
				t.Fatal("a truncated body was parsed")
			}
			if _, err := input.ParseJSON(bytes.TrimSpace([]byte(body))); err != nil {
				t.Fatalf("parsed_body from a body ParseJSON refuses: %q", body)
			}
		}
	})
}
