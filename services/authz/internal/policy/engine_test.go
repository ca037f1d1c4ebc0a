package policy_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sentryagent/agentidp/services/authz/internal/policy"
)

const basePolicy = `package app

default decision := {"allowed": false, "http_status": 403, "reason": "NOPE"}

decision := {"allowed": true, "rate_limit": "slow", "headers": {"x-app": "1"}} if input.ok

rate_limits := data.limits
`

const baseTest = `package app_test

import data.app

test_ok if app.decision.allowed with input as {"ok": true}
`

func writeDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func inputOf(t *testing.T, js string) ast.Value {
	t.Helper()
	v, err := ast.ValueFromReader(stringsReader(js))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestEngineEvaluatesAndReloads(t *testing.T) {
	dir := writeDir(t, map[string]string{
		"app.rego": basePolicy, "app_test.rego": baseTest,
		"data/limits.json": `{"slow": {"per_second": 2, "burst": 3}}`,
		".hidden.rego":     "not rego at all",
	})
	var mu sync.Mutex
	var tried []policy.Reload
	reg := prometheus.NewRegistry()
	e, err := policy.New(context.Background(), policy.Config{Dir: dir, Query: "data.app.decision", Registerer: reg,
		OnReload: func(r policy.Reload) { mu.Lock(); tried = append(tried, r); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	if e.Current().Tests != 1 {
		t.Fatalf("tests passed: %d", e.Current().Tests)
	}
	d, _, err := e.Eval(context.Background(), inputOf(t, `{"ok": true}`), false)
	if err != nil || !d.Allowed || d.RateLimit == nil || d.RateLimit.Bucket != "slow" || d.RateLimit.PerSecond != 2 ||
		d.RateLimit.Burst != 3 || d.Headers["x-app"] != "1" {
		t.Fatalf("%+v %v", d, err)
	}
	d, _, _ = e.Eval(context.Background(), inputOf(t, `{}`), false)
	if d.Allowed || d.HTTPStatus != 403 || d.Reason != "NOPE" {
		t.Fatalf("%+v", d)
	}
	if err := e.Reload(context.Background(), "test", false); !errors.Is(err, policy.ErrUnchanged) {
		t.Fatalf("unchanged directory: %v", err)
	}
	rev := e.Current().Revision

	refused := []struct{ name, file, content string }{
		{"syntax error", "app.rego", basePolicy + "\nnot rego {"},
		{"failing test", "app_test.rego", baseTest + "\ntest_fails if false\n"},
		{"no decision rule", "app.rego", "package app\n\nother := true\n"},
		{"bad data", "data/limits.json", `{"slow": `},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.file)
			good, _ := os.ReadFile(path)
			defer os.WriteFile(path, good, 0o644)
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := e.Reload(context.Background(), "test", false); err == nil {
				t.Fatal("accepted")
			}
			if e.Current().Revision != rev {
				t.Fatal("the refused version is serving")
			}
		})
	}
	if n := reloads(t, reg, "rejected"); n != float64(len(refused)) {
		t.Fatalf("rejected reloads counted: %v", n)
	}
	// A good edit is applied.
	if err := os.WriteFile(filepath.Join(dir, "data/limits.json"), []byte(`{"slow": {"per_second": 5, "burst": 1}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := e.Reload(context.Background(), "test", false); err != nil {
		t.Fatal(err)
	}
	if d, _, _ := e.Eval(context.Background(), inputOf(t, `{"ok": true}`), true); d.RateLimit.PerSecond != 5 {
		t.Fatalf("after reload: %+v", d.RateLimit)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(tried) != len(refused)+1 || tried[len(tried)-1].Err != nil || tried[0].Err == nil {
		t.Fatalf("reloads reported: %+v", tried)
	}
}

func TestEngineRefusesABrokenFirstPolicy(t *testing.T) {
	dir := writeDir(t, map[string]string{"app.rego": "package app\n\ndecision := "})
	if _, err := policy.New(context.Background(), policy.Config{Dir: dir, Query: "data.app.decision"}); err == nil {
		t.Fatal("started with a broken policy")
	}
	if _, err := policy.New(context.Background(), policy.Config{Dir: t.TempDir(), Query: "data.app.decision"}); err == nil {
		t.Fatal("started with no policy")
	}
}

func TestDecisionShapes(t *testing.T) {
	for _, tt := range []struct {
		v  string
		ok bool
	}{
		{`true`, true},
		{`{"allowed": true}`, true},
		{`{"allowed": false, "http_status": 429, "response_headers_to_add": {"retry-after": "3"}}`, true},
		{`{"allowed": true, "rate_limit": {"bucket": "x", "per_second": 1, "burst": 2}}`, true},
		{`"yes"`, false},
		{`{"http_status": 403}`, false},
		{`{"allowed": false, "http_status": 42}`, false},
		{`{"allowed": true, "headers": {"x": 1}}`, false},
		{`{"allowed": true, "rate_limit": {"per_second": 1}}`, false},
		{`{"allowed": true, "rate_limit": {"bucket": "x", "per_second": -1}}`, false},
	} {
		_, err := policy.ParseDecision(ast.MustParseTerm(tt.v).Value)
		if (err == nil) != tt.ok {
			t.Errorf("%s: %v", tt.v, err)
		}
	}
}

// reloads reads agentidp_authz_policy_reloads_total{result}.
func reloads(t *testing.T, reg *prometheus.Registry, result string) float64 {
	t.Helper()
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == "agentidp_authz_policy_reloads_total" {
			for _, m := range mf.GetMetric() {
				if m.GetLabel()[0].GetValue() == result {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatal("no metric")
	return 0
}

type reader struct {
	s string
	i int
}

func (r *reader) Read(p []byte) (int, error) {
	if r.i >= len(r.s) {
		return 0, io.EOF
	}
	n := copy(p, r.s[r.i:])
	r.i += n
	return n, nil
}

func stringsReader(s string) *reader { return &reader{s: s} }

func TestDecisionsOfDeterministicPoliciesAreRemembered(t *testing.T) {
	for _, tt := range []struct {
		name, rego string
		cacheable  bool
	}{
		{"deterministic", "package app\n\ndecision := input.ok\n", true},
		{"reads the clock", "package app\n\ndecision := time.now_ns() > input.t\n", false},
		{"reads the clock in a call term", "package app\n\nnow := time.now_ns()\n\ndecision := now > input.t\n", false},
		{"random", "package app\n\ndecision := rand.intn(\"x\", 2) == 1\n", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeDir(t, map[string]string{"app.rego": tt.rego})
			e, err := policy.New(context.Background(), policy.Config{Dir: dir, Query: "data.app.decision"})
			if err != nil {
				t.Fatal(err)
			}
			if e.Current().Cacheable() != tt.cacheable {
				t.Fatalf("cacheable = %v", e.Current().Cacheable())
			}
			in := inputOf(t, `{"ok": true, "t": 0}`)
			_, cached1, err1 := e.Eval(context.Background(), in, true)
			_, cached2, err2 := e.Eval(context.Background(), inputOf(t, `{"ok": true, "t": 0}`), true)
			_, cached3, _ := e.Eval(context.Background(), inputOf(t, `{"ok": false, "t": 0}`), true)
			_, cached4, _ := e.Eval(context.Background(), in, false)
			if err1 != nil || err2 != nil || cached1 || cached2 != tt.cacheable || cached3 || cached4 {
				t.Fatalf("cached: %v %v %v %v (%v %v)", cached1, cached2, cached3, cached4, err1, err2)
			}
		})
	}
}
