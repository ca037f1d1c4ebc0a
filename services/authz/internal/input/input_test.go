package input_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/sentryagent/agentidp/services/authz/internal/input"
)

func TestParseJSON(t *testing.T) {
	tests := []struct {
		body string
		err  error
		want string
	}{
		{`{"a":1,"b":[true,null,"x"],"c":{"d":2.5}}`, nil, `{"a": 1, "b": [true, null, "x"], "c": {"d": 2.5}}`},
		{`{"scopes":["a"],"scopes":["b"]}`, input.ErrDuplicateKey, ""},
		{`{"agent":{"x":1,"x":2}}`, input.ErrDuplicateKey, ""},
		{strings.Repeat("[", 70) + strings.Repeat("]", 70), input.ErrTooDeep, ""},
		{`{"a":1} {"b":2}`, errors.New("trailing"), ""},
		{`{"a":`, errors.New("eof"), ""},
	}
	for _, tt := range tests {
		v, err := input.ParseJSON([]byte(tt.body))
		switch {
		case tt.err == nil && err != nil:
			t.Errorf("%s: %v", tt.body, err)
		case tt.err != nil && err == nil:
			t.Errorf("%s: no error", tt.body)
		case errors.Is(tt.err, input.ErrDuplicateKey) || errors.Is(tt.err, input.ErrTooDeep):
			if !errors.Is(err, tt.err) {
				t.Errorf("%s: %v, want %v", tt.body, err, tt.err)
			}
		case tt.err == nil && v.String() != tt.want:
			t.Errorf("%s: %v", tt.body, v)
		}
	}
}

func TestBuild(t *testing.T) {
	r := &input.Request{Method: "PATCH", Path: "/v1/agents/%61bc/x%3Arotate?updateMask=status&updateMask=name",
		Headers: map[string]string{"authorization": "Bearer secret-token", "x-request-id": "r1"},
		Body:    []byte(` {"status":"suspended"}`)}
	v, p := input.Build(r, ast.NewObject(ast.Item(ast.StringTerm("sub"), ast.StringTerm("me"))), nil, nil)
	obj := v.(ast.Object)
	get := func(path ...string) *ast.Term {
		t.Helper()
		ref := ast.Ref{ast.VarTerm("x")}
		for _, p := range path {
			ref = append(ref, ast.StringTerm(p))
		}
		val, err := obj.Find(ref[1:])
		if err != nil {
			return nil
		}
		return ast.NewTerm(val)
	}
	if got := get("parsed_path").String(); got != `["v1", "agents", "abc", "x:rotate"]` {
		t.Errorf("parsed_path %s", got)
	}
	if got := get("parsed_query", "updateMask").String(); got != `["status", "name"]` {
		t.Errorf("parsed_query %s", got)
	}
	if got := get("parsed_body", "status").String(); got != `"suspended"` {
		t.Errorf("parsed_body %v", get("parsed_body"))
	}
	if get("attributes", "request", "http", "headers", "authorization") != nil || strings.Contains(v.String(), "secret-token") {
		t.Error("the authorization header reached the input")
	}
	if get("token", "sub").String() != `"me"` || get("agent") != nil || p.PathOnly != "/v1/agents/%61bc/x%3Arotate" || p.Truncated {
		t.Errorf("token/agent/parsed: %v %+v", v, p)
	}

	r.Headers["content-length"] = "9999"
	v, p = input.Build(r, nil, nil, nil)
	if !p.Truncated || !strings.Contains(v.String(), `"truncated_body": true`) || strings.Contains(v.String(), "parsed_body") {
		t.Errorf("declared length beyond the body: %v", v)
	}
	delete(r.Headers, "content-length")
	r.Headers["x-envoy-auth-partial-body"] = "true"
	if _, p = input.Build(r, nil, nil, nil); !p.Truncated {
		t.Error("partial body not noticed")
	}
}
