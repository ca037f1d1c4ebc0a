package idp_test

// The interpreter of the language-neutral contract suite (sdks/contract):
// every scenario runs against the live mesh named by AGENTIDP_URL,
// AGENTIDP_CLIENT_ID and AGENTIDP_CLIENT_SECRET; without them the suite is
// skipped.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	idp "github.com/sentryagent/agentidp/sdks/go"
)

type meshEnv struct{ url, clientID, secret string }

// liveMesh returns the mesh to test against, or skips.
func liveMesh(t *testing.T) meshEnv {
	t.Helper()
	e := meshEnv{os.Getenv("AGENTIDP_URL"), os.Getenv("AGENTIDP_CLIENT_ID"), os.Getenv("AGENTIDP_CLIENT_SECRET")}
	if e.url == "" || e.clientID == "" || e.secret == "" {
		t.Skip("no live mesh: set AGENTIDP_URL, AGENTIDP_CLIENT_ID and AGENTIDP_CLIENT_SECRET (make dev writes them to .dev/env)")
	}
	return e
}

// authzEnforced asks /v1 without a token: 200 means the gateway has no
// authz yet.
func authzEnforced(t *testing.T, base string) bool {
	t.Helper()
	resp, err := http.Get(strings.TrimRight(base, "/") + "/v1/agents?pageSize=1")
	if err != nil {
		t.Fatalf("probe the gateway: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode != http.StatusOK
}

type scenario struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Requires    []string `json:"requires"`
	Steps       []step   `json:"steps"`
}

type step struct {
	Op          string          `json:"op"`
	As          string          `json:"as"`
	Args        map[string]any  `json:"args"`
	Save        string          `json:"save"`
	Expect      json.RawMessage `json:"expect"`
	ExpectError json.RawMessage `json:"expectError"`
	Eventually  *struct {
		TimeoutMs int `json:"timeoutMs"`
	} `json:"eventually"`
	Repeat *struct {
		Max int `json:"max"`
	} `json:"repeat"`
	Comment string `json:"comment"`
}

func TestContract(t *testing.T) {
	env := liveMesh(t)
	authz := authzEnforced(t, env.url)
	files, err := filepath.Glob("../contract/scenarios/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios in ../contract/scenarios (%v)", err)
	}
	sort.Strings(files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var sc scenario
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&sc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
			if slices.Contains(sc.Requires, "authz") && !authz {
				t.Skip("needs authz: the gateway answers /v1 without a token")
			}
			newRunner(t, env).run(sc)
		})
	}
}

type runner struct {
	t       *testing.T
	ctx     context.Context
	env     meshEnv
	vars    map[string]any
	clients map[string]*idp.Client
	secrets []string
}

func newRunner(t *testing.T, env meshEnv) *runner {
	var b [4]byte
	_, _ = rand.Read(b[:])
	r := &runner{t: t, ctx: context.Background(), env: env,
		vars: map[string]any{"run": hex.EncodeToString(b[:])}, clients: map[string]*idp.Client{}}
	admin, err := idp.New(idp.Config{BaseURL: env.url, ClientID: env.clientID, ClientSecret: idp.Secret(env.secret)})
	if err != nil {
		t.Fatal(err)
	}
	r.clients["admin"] = admin
	r.secrets = append(r.secrets, env.secret)
	return r
}

func (r *runner) run(sc scenario) {
	for i, s := range sc.Steps {
		label := fmt.Sprintf("step %d (%s)", i+1, s.Op)
		if err := r.step(s); err != nil {
			r.t.Fatalf("%s %s: %v", label, s.Comment, err)
		}
	}
}

func (r *runner) step(s step) error {
	args, _ := r.interpolate(s.Args).(map[string]any)
	if args == nil {
		args = map[string]any{}
	}
	var expect, expectErr any
	if s.Expect != nil {
		expect = r.interpolate(decode(s.Expect))
	}
	if s.ExpectError != nil {
		expectErr = r.interpolate(decode(s.ExpectError))
	}
	attempt := func() (any, error) {
		if s.Repeat != nil {
			for i := 0; i < s.Repeat.Max; i++ {
				if _, err := r.exec(s, args); err != nil {
					return nil, r.checkError(err, expectErr)
				}
			}
			return nil, fmt.Errorf("no error after %d calls", s.Repeat.Max)
		}
		res, err := r.exec(s, args)
		if s.ExpectError != nil {
			if err == nil {
				return nil, fmt.Errorf("expected an error, got %v", res)
			}
			return nil, r.checkError(err, expectErr)
		}
		if err != nil {
			return nil, err
		}
		if s.Op != "check" {
			r.checkNoSecret(fmt.Sprintf("%v %+v", res, res))
		}
		view := plain(res)
		if s.Expect != nil {
			if err := match(expect, view, "result"); err != nil {
				return nil, err
			}
		}
		return view, nil
	}
	deadline := time.Now()
	if s.Eventually != nil {
		deadline = deadline.Add(time.Duration(s.Eventually.TimeoutMs) * time.Millisecond)
	}
	for {
		view, err := attempt()
		if err == nil {
			if s.Save != "" {
				r.vars[s.Save] = view
			}
			return nil
		}
		var secretLeak *leakError
		if errors.As(err, &secretLeak) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// exec runs one operation and returns the SDK's result.
func (r *runner) exec(s step, a map[string]any) (any, error) {
	ctx := r.ctx
	if s.Op == "client.new" || s.Op == "check" {
		return r.local(s.Op, a)
	}
	as := s.As
	if as == "" {
		as = "admin"
	}
	c := r.clients[as]
	if c == nil {
		r.t.Fatalf("no client %q", as)
	}
	switch s.Op {
	case "client.clearTokenCache":
		allow(r.t, a)
		c.ClearTokenCache()
		return nil, nil
	case "agents.register":
		var in idp.AgentInput
		convert(r.t, a, &in)
		in.RequestID = str(a, "requestId")
		return c.Agents.Register(ctx, in)
	case "agents.get":
		allow(r.t, a, "agentId")
		return c.Agents.Get(ctx, str(a, "agentId"))
	case "agents.list":
		allow(r.t, a, "status", "owner", "agentType", "search", "pageSize", "limit")
		f := idp.AgentFilter{Status: str(a, "status"), Owner: str(a, "owner"), AgentType: str(a, "agentType"),
			Search: str(a, "search"), PageSize: num(a, "pageSize")}
		return collect(c.Agents.List(ctx, f), num(a, "limit"))
	case "agents.update":
		allow(r.t, a, "agentId", "changes", "etag")
		var u idp.AgentUpdate
		changes, _ := a["changes"].(map[string]any)
		for k, v := range changes {
			switch k {
			case "name":
				u.Name = idp.Ptr(v.(string))
			case "description":
				u.Description = idp.Ptr(v.(string))
			case "agentType":
				u.AgentType = idp.Ptr(v.(string))
			case "version":
				u.Version = idp.Ptr(v.(string))
			case "owner":
				u.Owner = idp.Ptr(v.(string))
			case "deploymentEnv":
				u.DeploymentEnv = idp.Ptr(v.(string))
			case "capabilities":
				u.Capabilities = idp.Ptr(strs(map[string]any{"v": v}, "v"))
			case "scopes":
				u.Scopes = idp.Ptr(strs(map[string]any{"v": v}, "v"))
			case "metadata":
				m := map[string]string{}
				convert(r.t, v, &m)
				u.Metadata = &m
			default:
				r.t.Fatalf("agents.update: unknown field %q", k)
			}
		}
		u.Etag = str(a, "etag")
		return c.Agents.Update(ctx, str(a, "agentId"), u)
	case "agents.suspend":
		allow(r.t, a, "agentId")
		return c.Agents.Suspend(ctx, str(a, "agentId"))
	case "agents.reactivate":
		allow(r.t, a, "agentId")
		return c.Agents.Reactivate(ctx, str(a, "agentId"))
	case "agents.decommission":
		allow(r.t, a, "agentId")
		return c.Agents.Decommission(ctx, str(a, "agentId"))
	case "credentials.generate":
		allow(r.t, a, "agentId", "ttlSeconds")
		res, err := c.Credentials.Generate(ctx, str(a, "agentId"), time.Duration(num(a, "ttlSeconds"))*time.Second)
		if err == nil {
			r.secrets = append(r.secrets, res.ClientSecret.Reveal())
		}
		return res, err
	case "credentials.list":
		allow(r.t, a, "agentId", "pageSize", "limit")
		return collect(c.Credentials.List(ctx, str(a, "agentId"), num(a, "pageSize")), num(a, "limit"))
	case "credentials.rotate":
		allow(r.t, a, "agentId", "credentialId", "gracePeriodSeconds")
		res, err := c.Credentials.Rotate(ctx, str(a, "agentId"), str(a, "credentialId"),
			time.Duration(num(a, "gracePeriodSeconds"))*time.Second)
		if err == nil {
			r.secrets = append(r.secrets, res.ClientSecret.Reveal())
		}
		return res, err
	case "credentials.revoke":
		allow(r.t, a, "agentId", "credentialId")
		return c.Credentials.Revoke(ctx, str(a, "agentId"), str(a, "credentialId"))
	case "tokens.issue":
		allow(r.t, a, "scopes")
		res, err := c.Tokens.Issue(ctx, strs(a, "scopes")...)
		if err == nil {
			r.secrets = append(r.secrets, res.AccessToken.Reveal())
		}
		return res, err
	case "tokens.introspect":
		allow(r.t, a, "token")
		return c.Tokens.Introspect(ctx, idp.Secret(str(a, "token")))
	case "tokens.revoke":
		allow(r.t, a, "token")
		return nil, c.Tokens.Revoke(ctx, idp.Secret(str(a, "token")))
	case "audit.query":
		allow(r.t, a, "agentId", "action", "outcome", "actor", "owner", "pageSize", "limit")
		f := idp.AuditFilter{AgentID: str(a, "agentId"), Action: str(a, "action"), Outcome: str(a, "outcome"),
			Actor: str(a, "actor"), Owner: str(a, "owner"), PageSize: num(a, "pageSize")}
		return collect(c.Audit.Query(ctx, f), num(a, "limit"))
	case "audit.get":
		allow(r.t, a, "eventId")
		return c.Audit.Get(ctx, str(a, "eventId"))
	case "audit.verify":
		allow(r.t, a, "fromSequence", "toSequence")
		return c.Audit.Verify(ctx, int64(num(a, "fromSequence")), int64(num(a, "toSequence")))
	case "audit.checkpoints":
		allow(r.t, a, "fromSequence", "limit")
		return collect(c.Audit.Checkpoints(ctx, int64(num(a, "fromSequence"))), num(a, "limit"))
	}
	r.t.Fatalf("unknown op %q", s.Op)
	return nil, nil
}

// local runs the operations that do not call the API.
func (r *runner) local(op string, a map[string]any) (any, error) {
	switch op {
	case "client.new":
		allow(r.t, a, "name", "clientId", "clientSecret", "scopes", "maxRetries")
		cfg := idp.Config{BaseURL: r.env.url, ClientID: str(a, "clientId"), ClientSecret: idp.Secret(str(a, "clientSecret")),
			Scopes: strs(a, "scopes")}
		if v, ok := a["maxRetries"]; ok {
			cfg.MaxRetries = int(v.(float64))
			if cfg.MaxRetries == 0 {
				cfg.MaxRetries = idp.NoRetries
			}
		}
		c, err := idp.New(cfg)
		if err != nil {
			r.t.Fatal(err)
		}
		r.clients[str(a, "name")] = c
		r.secrets = append(r.secrets, cfg.ClientSecret.Reveal())
		return nil, nil
	case "check":
		allow(r.t, a, "value")
		return a["value"], nil
	}
	return nil, nil
}

type leakError struct{ where string }

func (e *leakError) Error() string { return "a secret appears in " + e.where }

func (r *runner) checkNoSecret(s string) {
	for _, secret := range r.secrets {
		if secret != "" && strings.Contains(s, secret) {
			r.t.Fatalf("%v", &leakError{where: "the string form of a result or error: " + s})
		}
	}
}

func (r *runner) checkError(err error, expect any) error {
	var e *idp.AgentIdPError
	if !errors.As(err, &e) {
		return fmt.Errorf("not an *AgentIdPError: %T %v", err, err)
	}
	r.checkNoSecret(fmt.Sprintf("%v %+v %#v", err, e, e))
	view := map[string]any{"code": e.Code, "message": e.Message, "httpStatus": float64(e.HTTPStatus),
		"details": plain(e.Details), "retryAfter": nil}
	if e.RetryAfter > 0 {
		view["retryAfter"] = e.RetryAfter.Seconds()
	}
	if expect == nil {
		return nil
	}
	if err := match(expect, view, "error"); err != nil {
		return fmt.Errorf("%w (the error: %v)", err, e)
	}
	return nil
}

// plain is the JSON view of a result, with the REST API's names and the
// secrets revealed (the SDK's own JSON hides them).
func plain(v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case *idp.TokenResponse:
		return map[string]any{"accessToken": x.AccessToken.Reveal(), "tokenType": x.TokenType,
			"expiresIn": float64(x.ExpiresIn), "scope": x.Scope}
	case *idp.Introspection:
		return map[string]any{"active": x.Active, "scope": x.Scope, "owner": x.Owner, "clientId": x.ClientID, "sub": x.Sub,
			"exp": float64(x.Exp), "iat": float64(x.Iat), "jti": x.Jti, "iss": x.Iss, "aud": plain(x.Aud),
			"tokenType": x.TokenType}
	case *idp.IssuedCredential:
		return map[string]any{"credential": plain(&x.Credential), "clientId": x.ClientID,
			"clientSecret": x.ClientSecret.Reveal()}
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return decode(b)
}

func decode(b []byte) any {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		panic(err)
	}
	return v
}

func collect[T any](seq func(func(*T, error) bool), limit int) ([]*T, error) {
	out := []*T{}
	for v, err := range seq {
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		if limit > 0 && len(out) >= limit {
			break
		}
	}
	return out, nil
}

var ref = regexp.MustCompile(`\$\{([^}]+)\}`)

func (r *runner) interpolate(v any) any {
	switch x := v.(type) {
	case string:
		if m := ref.FindStringSubmatch(x); m != nil && m[0] == x {
			return r.lookup(m[1])
		}
		return ref.ReplaceAllStringFunc(x, func(s string) string {
			v := r.lookup(s[2 : len(s)-1])
			if f, ok := v.(float64); ok && f == math.Trunc(f) {
				return fmt.Sprint(int64(f))
			}
			return fmt.Sprint(v)
		})
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			out[k] = r.interpolate(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = r.interpolate(e)
		}
		return out
	}
	return v
}

func (r *runner) lookup(path string) any {
	parts := strings.Split(path, ".")
	v, ok := r.vars[parts[0]]
	if !ok {
		r.t.Fatalf("unknown reference ${%s}", path)
	}
	for _, p := range parts[1:] {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			var i int
			if _, err := fmt.Sscan(p, &i); err != nil || i < 0 || i >= len(x) {
				r.t.Fatalf("reference ${%s}: no item %s", path, p)
			}
			v = x[i]
		default:
			r.t.Fatalf("reference ${%s}: %q is not in %v", path, p, v)
		}
	}
	return v
}

// match checks a value against a matcher (sdks/contract/README.md).
func match(exp, act any, where string) error {
	switch e := exp.(type) {
	case map[string]any:
		if hasOperator(e) {
			for op, arg := range e {
				if err := matchOp(op, arg, act, where); err != nil {
					return err
				}
			}
			return nil
		}
		m, ok := act.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: want an object, got %v", where, act)
		}
		for k, sub := range e {
			if err := match(sub, m[k], where+"."+k); err != nil {
				return err
			}
		}
		return nil
	case []any:
		a, ok := act.([]any)
		if !ok || len(a) != len(e) {
			return fmt.Errorf("%s: want %d items, got %v", where, len(e), act)
		}
		for i := range e {
			if err := match(e[i], a[i], fmt.Sprintf("%s[%d]", where, i)); err != nil {
				return err
			}
		}
		return nil
	}
	if !equal(exp, act) {
		return fmt.Errorf("%s: want %v, got %v", where, exp, act)
	}
	return nil
}

func hasOperator(m map[string]any) bool {
	for k := range m {
		if strings.HasPrefix(k, "$") {
			return true
		}
	}
	return false
}

func matchOp(op string, arg, act any, where string) error {
	fail := func() error { return fmt.Errorf("%s: want %s %v, got %v", where, op, arg, act) }
	switch op {
	case "$exists":
		if (act != nil) != arg.(bool) {
			return fail()
		}
	case "$ne":
		if equal(arg, act) {
			return fail()
		}
	case "$prefix":
		s, ok := act.(string)
		if !ok || !strings.HasPrefix(s, arg.(string)) {
			return fail()
		}
	case "$contains":
		switch a := arg.(type) {
		case string:
			s, ok := act.(string)
			if !ok || !strings.Contains(s, a) {
				return fail()
			}
		case []any:
			items, ok := act.([]any)
			if !ok {
				return fail()
			}
			for _, want := range a {
				found := false
				for _, it := range items {
					if match(want, it, where) == nil {
						found = true
						break
					}
				}
				if !found {
					return fmt.Errorf("%s: no item matches %v in %v", where, want, act)
				}
			}
		default:
			return fail()
		}
	case "$every":
		items, ok := act.([]any)
		if !ok {
			return fail()
		}
		for i, it := range items {
			if err := match(arg, it, fmt.Sprintf("%s[%d]", where, i)); err != nil {
				return err
			}
		}
	case "$notContains":
		s, ok := act.(string)
		if !ok || strings.Contains(s, arg.(string)) {
			return fail()
		}
	case "$len":
		n := -1
		switch a := act.(type) {
		case []any:
			n = len(a)
		case string:
			n = len(a)
		}
		if float64(n) != arg.(float64) {
			return fail()
		}
	case "$gte":
		f, ok := act.(float64)
		if !ok || f < arg.(float64) {
			return fail()
		}
	default:
		return fmt.Errorf("%s: unknown matcher %s", where, op)
	}
	return nil
}

func equal(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

func allow(t *testing.T, a map[string]any, keys ...string) {
	t.Helper()
	for k := range a {
		if !slices.Contains(keys, k) {
			t.Fatalf("unknown argument %q", k)
		}
	}
}

func str(a map[string]any, k string) string {
	s, _ := a[k].(string)
	return s
}

func num(a map[string]any, k string) int {
	f, _ := a[k].(float64)
	return int(f)
}

func strs(a map[string]any, k string) []string {
	l, _ := a[k].([]any)
	var out []string
	for _, v := range l {
		out = append(out, fmt.Sprint(v))
	}
	return out
}

// convert maps JSON-shaped args onto a typed struct, rejecting unknown
// fields.
func convert(t *testing.T, from, to any) {
	t.Helper()
	m, _ := from.(map[string]any)
	if m != nil {
		if _, ok := m["requestId"]; ok {
			m = maps(m)
			delete(m, "requestId")
			from = m
		}
	}
	b, _ := json.Marshal(from)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(to); err != nil {
		t.Fatalf("arguments %s: %v", b, err)
	}
}

func maps(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
