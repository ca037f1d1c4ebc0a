// Package clie2e runs the agentidp command line (cli/) against the whole
// mesh on free ports, as an operator does: the binary the stack builds,
// logged in with the bootstrapped platform admin, its configuration in a
// temporary home. One mesh serves every test of the package.
package clie2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/sentryagent/agentidp/deploy/local/stack"
)

var (
	mesh  *stack.Stack
	admin stack.Admin
	// run makes owners and names unique to this run.
	run = fmt.Sprintf("%d", time.Now().UnixNano()%1_000_000_000)
)

func TestMain(m *testing.M) {
	os.Exit(stack.TestMain(m, stack.TestMainOptions{
		Name: "cli",
		Ready: func(_ context.Context, s *stack.Stack, a stack.Admin) error {
			mesh, admin = s, a
			return nil
		},
	}))
}

// home is one operator's machine: a HOME and a configuration directory of
// its own, and environment variables on top of a clean environment.
type home struct {
	dir string
	env []string
}

func newHome(t *testing.T) *home {
	t.Helper()
	if stack.Short() {
		t.Skip("needs the mesh (not in -short mode)")
	}
	return &home{dir: t.TempDir()}
}

// configDir is os.UserConfigDir()/agentidp for this home.
func (h *home) configDir() string { return filepath.Join(h.dir, "config", "agentidp") }

// with returns a copy of the home with more environment variables.
func (h *home) with(env ...string) *home {
	return &home{dir: h.dir, env: append(append([]string{}, h.env...), env...)}
}

// command is the agentidp command line in this home. The environment is
// the test's, less everything that could point the CLI elsewhere.
func (h *home) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, mesh.Binary("agentidp"), args...)
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AGENTIDP_") || k == "HOME" || k == "XDG_CONFIG_HOME" {
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	cmd.Env = append(cmd.Env, "HOME="+h.dir, "XDG_CONFIG_HOME="+filepath.Join(h.dir, "config"))
	cmd.Env = append(cmd.Env, h.env...)
	return cmd
}

type result struct {
	out, err string
	code     int
}

// cli runs agentidp with stdin (may be empty) and returns what it printed
// and its exit code.
func (h *home) cli(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := h.command(ctx, args...)
	var o, e bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(stdin), &o, &e
	err := cmd.Run()
	r := result{out: o.String(), err: e.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("agentidp %v: %v", args, err)
	}
	t.Logf("agentidp %s → exit %d %s", strings.Join(args, " "), r.code, strings.TrimSpace(r.err))
	return r
}

// ok runs agentidp and fails the test unless it exits 0.
func (h *home) ok(t *testing.T, args ...string) string {
	t.Helper()
	r := h.cli(t, "", args...)
	if r.code != 0 {
		t.Fatalf("agentidp %v: exit %d\n%s", args, r.code, r.err)
	}
	return r.out
}

// exits runs agentidp and checks its exit code.
func (h *home) exits(t *testing.T, code int, args ...string) result {
	t.Helper()
	r := h.cli(t, "", args...)
	if r.code != code {
		t.Fatalf("agentidp %v: exit %d, want %d\nstdout: %s\nstderr: %s", args, r.code, code, r.out, r.err)
	}
	return r
}

// jsonOf runs agentidp -o json and decodes its output into v.
func jsonOf[T any](t *testing.T, h *home, args ...string) T {
	t.Helper()
	var v T
	out := h.ok(t, append(args, "-o", "json")...)
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("agentidp %v -o json: %v\n%s", args, err, out)
	}
	return v
}

// loggedIn is a home logged in as the platform admin.
func loggedIn(t *testing.T) *home {
	t.Helper()
	h := newHome(t)
	r := h.cli(t, admin.ClientSecret+"\n", "login", "--url", mesh.GatewayURL(), "--client-id", admin.ClientID, "--client-secret-stdin")
	if r.code != 0 {
		t.Fatalf("login: exit %d: %s", r.code, r.err)
	}
	return h
}

// eventually retries check every 200ms for up to 30s: effects that
// propagate (the audit stream, the credentials feed to the token service).
func eventually(t *testing.T, check func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

type agent struct {
	AgentID     string   `json:"agentId"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Version     string   `json:"version"`
	Owner       string   `json:"owner"`
	Scopes      []string `json:"scopes"`
	Status      string   `json:"status"`
	Etag        string   `json:"etag"`
	SuspendedAt string   `json:"suspendedAt"`
}

type issued struct {
	Credential struct {
		CredentialID  string `json:"credentialId"`
		AgentID       string `json:"agentId"`
		Status        string `json:"status"`
		SecretVersion int64  `json:"secretVersion"`
	} `json:"credential"`
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
}

// as is a home that calls as the agent through the environment alone (no
// profile), as a script or a CI job would.
func as(t *testing.T, clientID, secret string) *home {
	return newHome(t).with("AGENTIDP_URL="+mesh.GatewayURL(), "AGENTIDP_CLIENT_ID="+clientID, "AGENTIDP_CLIENT_SECRET="+secret)
}

// Login keeps a profile with the secret beside it (0600), refuses a secret
// file others can read, keeps named profiles apart, and logout forgets.
func TestLogin(t *testing.T) {
	h := newHome(t)
	r := h.exits(t, 3, "agents", "list")
	if !strings.Contains(r.err, "agentidp login") {
		t.Errorf("not logged in: %q", r.err)
	}
	h.exits(t, 2, "login", "--url", mesh.GatewayURL()) // no client id

	// A wrong secret is refused (3) and never printed.
	wrong := "agentidp_sk_not-the-secret-" + run
	r = h.cli(t, wrong+"\n", "login", "--url", mesh.GatewayURL(), "--client-id", admin.ClientID, "--client-secret-stdin")
	if r.code != 3 || strings.Contains(r.out+r.err, wrong) {
		t.Fatalf("wrong secret: exit %d, output %q %q", r.code, r.out, r.err)
	}
	if _, err := os.Stat(filepath.Join(h.configDir(), "config.yaml")); err == nil {
		t.Error("a failed login wrote a profile")
	}

	r = h.cli(t, admin.ClientSecret+"\n", "login", "--url", mesh.GatewayURL(), "--client-id", admin.ClientID, "--client-secret-stdin")
	if r.code != 0 || !strings.Contains(r.out, admin.ClientID) {
		t.Fatalf("login: exit %d %q %q", r.code, r.out, r.err)
	}
	cfg, err := os.ReadFile(filepath.Join(h.configDir(), "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(cfg), admin.ClientSecret) || !strings.Contains(string(cfg), admin.ClientID) {
		t.Errorf("config.yaml:\n%s", cfg)
	}
	secretFile := filepath.Join(h.configDir(), "secrets", "default")
	st, err := os.Stat(secretFile)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("secret file: %v %v", st, err)
	}
	if out := h.ok(t, "agents", "list"); !strings.Contains(out, "platform-admin") {
		t.Errorf("agents list:\n%s", out)
	}

	// Loose permissions: refused, as ssh refuses such a key.
	if err := os.Chmod(secretFile, 0o644); err != nil {
		t.Fatal(err)
	}
	if r := h.exits(t, 3, "agents", "list"); !strings.Contains(r.err, "chmod 600") {
		t.Errorf("loose secret file: %q", r.err)
	}
	if err := os.Chmod(secretFile, 0o600); err != nil {
		t.Fatal(err)
	}

	// A second profile, from the environment; --profile picks it, an
	// unknown one is refused.
	h.with("AGENTIDP_URL="+mesh.GatewayURL(), "AGENTIDP_CLIENT_ID="+admin.ClientID, "AGENTIDP_CLIENT_SECRET="+admin.ClientSecret).
		ok(t, "login", "--profile", "ops")
	h.ok(t, "agents", "list", "--profile", "ops", "--limit", "1")
	h.exits(t, 3, "agents", "list", "--profile", "nope")
	// A URL flag wins over the profile's: nothing listens there (6).
	h.exits(t, 6, "agents", "list", "--url", "http://127.0.0.1:1")

	// The environment alone, the secret in a file of its own.
	f := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(f, []byte(admin.ClientSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := newHome(t).with("AGENTIDP_URL="+mesh.GatewayURL(), "AGENTIDP_CLIENT_ID="+admin.ClientID, "AGENTIDP_CLIENT_SECRET_FILE="+f)
	env.ok(t, "agents", "list", "--limit", "1")
	_ = os.Chmod(f, 0o640)
	env.exits(t, 3, "agents", "list")

	h.ok(t, "logout", "--profile", "ops")
	h.ok(t, "logout")
	h.exits(t, 3, "agents", "list")
	if _, err := os.Stat(secretFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("logout left the secret file: %v", err)
	}
}

// An agent's whole life through the CLI, with its credential and tokens,
// and -o json / -o yaml read back.
func TestAgentLifecycle(t *testing.T) {
	h := loggedIn(t)
	owner := "cli-" + run
	a := jsonOf[agent](t, h, "agents", "register", "--name", "lifecycle-"+run, "--owner", owner,
		"--scope", "agents:read", "--scope", "tokens:introspect", "--metadata", "team=ops")
	if a.AgentID == "" || a.Status != "active" || a.Owner != owner {
		t.Fatalf("registered %+v", a)
	}
	if got := jsonOf[agent](t, h, "agents", "get", a.AgentID); got.AgentID != a.AgentID || got.Name != a.Name || got.Etag != a.Etag {
		t.Errorf("get %+v, registered %+v", got, a)
	}
	if list := jsonOf[[]agent](t, h, "agents", "list", "--owner", owner); len(list) != 1 || list[0].AgentID != a.AgentID {
		t.Errorf("list --owner: %+v", list)
	}
	if out := h.ok(t, "agents", "list", "--owner", owner); !strings.Contains(out, a.AgentID) || !strings.HasPrefix(out, "AGENT ID") {
		t.Errorf("table:\n%s", out)
	}

	// Update, read back as YAML; a stale etag is a conflict (5).
	var u agent
	if err := yaml.Unmarshal([]byte(h.ok(t, "agents", "update", a.AgentID, "--description", "does things", "--version", "2", "-o", "yaml")), &u); err != nil {
		t.Fatal(err)
	}
	if u.Description != "does things" || u.Version != "2" || u.Etag == a.Etag {
		t.Errorf("updated %+v", u)
	}
	h.exits(t, 5, "agents", "update", a.AgentID, "--version", "3", "--etag", a.Etag)
	h.exits(t, 2, "agents", "update", a.AgentID) // no field

	// A credential: its secret printed once, and it works.
	c := jsonOf[issued](t, h, "credentials", "generate", a.AgentID)
	if c.ClientSecret == "" || c.ClientSecret == "[REDACTED]" || c.Credential.Status != "active" {
		t.Fatalf("generated %+v", c)
	}
	if out := h.ok(t, "credentials", "list", a.AgentID, "-o", "json"); strings.Contains(out, c.ClientSecret) || !strings.Contains(out, c.Credential.CredentialID) {
		t.Errorf("credentials list:\n%s", out)
	}
	agentHome := as(t, c.ClientID, c.ClientSecret)
	tok := strings.TrimSpace(agentHome.ok(t, "token", "get"))
	if strings.Count(tok, ".") != 2 {
		t.Fatalf("token get printed %q", tok)
	}

	// Introspection: by argument, and from stdin.
	type introspection struct {
		Active   bool   `json:"active"`
		ClientID string `json:"client_id"`
		Owner    string `json:"owner"`
		Scope    string `json:"scope"`
	}
	in := jsonOf[introspection](t, h, "token", "introspect", tok)
	if !in.Active || in.ClientID != a.AgentID || in.Owner != owner {
		t.Errorf("introspect: %+v", in)
	}
	r := h.cli(t, tok+"\n", "token", "introspect", "-", "-o", "json")
	if r.code != 0 || !strings.Contains(r.out, `"active": true`) {
		t.Errorf("introspect -: %d %s", r.code, r.out)
	}
	// The agent revokes its own token.
	if r := agentHome.cli(t, tok+"\n", "token", "revoke", "-"); r.code != 0 {
		t.Fatalf("revoke: %d %s", r.code, r.err)
	}
	eventually(t, func() error {
		if in := jsonOf[introspection](t, h, "token", "introspect", tok); in.Active {
			return errors.New("the revoked token is still active")
		}
		return nil
	})
	// -o json on token get reveals the token: it was asked for.
	var tr struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if err := json.Unmarshal([]byte(agentHome.ok(t, "token", "get", "--scope", "agents:read", "-o", "json")), &tr); err != nil || strings.Count(tr.AccessToken, ".") != 2 || tr.ExpiresIn <= 0 {
		t.Errorf("token get -o json: %v %+v", err, tr)
	}

	// Rotate: the new secret works, the old one stops (grace 0).
	rot := jsonOf[issued](t, h, "credentials", "rotate", a.AgentID, c.Credential.CredentialID)
	if rot.ClientSecret == "" || rot.ClientSecret == c.ClientSecret || rot.Credential.SecretVersion <= c.Credential.SecretVersion {
		t.Fatalf("rotated %+v", rot.Credential)
	}
	eventually(t, func() error {
		if r := agentHome.cli(t, "", "token", "get"); r.code != 3 {
			return fmt.Errorf("the old secret after rotation: exit %d", r.code)
		}
		return nil
	})
	rotHome := as(t, rot.ClientID, rot.ClientSecret)
	before := strings.TrimSpace(rotHome.ok(t, "token", "get"))

	// Suspend: tokens stop (the one issued before included); reactivate:
	// new ones come back.
	if s := jsonOf[agent](t, h, "agents", "suspend", a.AgentID); s.Status != "suspended" || s.SuspendedAt == "" {
		t.Errorf("suspended %+v", s)
	}
	eventually(t, func() error {
		if r := h.cli(t, before+"\n", "token", "introspect", "-", "-o", "json"); r.code != 0 || !strings.Contains(r.out, `"active": false`) {
			return fmt.Errorf("a suspended agent's token: exit %d %s", r.code, r.out)
		}
		return nil
	})
	eventually(t, func() error {
		if r := rotHome.cli(t, "", "token", "get"); r.code != 3 {
			return fmt.Errorf("token of a suspended agent: exit %d", r.code)
		}
		return nil
	})
	h.exits(t, 5, "credentials", "generate", a.AgentID) // not active
	if s := jsonOf[agent](t, h, "agents", "reactivate", a.AgentID); s.Status != "active" {
		t.Errorf("reactivated %+v", s)
	}
	eventually(t, func() error {
		if r := rotHome.cli(t, "", "token", "get"); r.code != 0 {
			return fmt.Errorf("token after reactivation: exit %d", r.code)
		}
		return nil
	})

	// No such credential (of an active agent): not found; of a
	// decommissioned agent (below) the agent's state answers first.
	h.exits(t, 4, "credentials", "rotate", a.AgentID, "0190c6e8-0000-7000-8000-00000000dead")

	// Revoke the credential: its secret stops working.
	if rv := jsonOf[issued](t, h, "credentials", "revoke", a.AgentID, c.Credential.CredentialID); rv.ClientSecret != "" {
		t.Errorf("revoke printed a secret")
	}
	if list := jsonOf[[]struct{ Status string }](t, h, "credentials", "list", a.AgentID); len(list) != 1 || list[0].Status != "revoked" {
		t.Errorf("after revoke: %+v", list)
	}
	eventually(t, func() error {
		if r := rotHome.cli(t, "", "token", "get"); r.code != 3 {
			return fmt.Errorf("token with a revoked credential: exit %d", r.code)
		}
		return nil
	})

	if d := jsonOf[agent](t, h, "agents", "decommission", a.AgentID); d.Status != "decommissioned" {
		t.Errorf("decommissioned %+v", d)
	}
	h.ok(t, "agents", "decommission", a.AgentID) // harmless again
	if list := jsonOf[[]agent](t, h, "agents", "list", "--owner", owner, "--status", "decommissioned"); len(list) != 1 {
		t.Errorf("list --status decommissioned: %+v", list)
	}
	h.exits(t, 4, "agents", "get", "0190c6e8-0000-7000-8000-00000000dead")
	h.exits(t, 5, "credentials", "generate", a.AgentID) // decommissioned
}

// Another owner's agent is not found (4), as one that does not exist.
func TestCrossOwner(t *testing.T) {
	h := loggedIn(t)
	mine := jsonOf[agent](t, h, "agents", "register", "--name", "a-"+run, "--owner", "cli-a-"+run,
		"--scope", "agents:read,agents:write,credentials:write")
	theirs := jsonOf[agent](t, h, "agents", "register", "--name", "b-"+run, "--owner", "cli-b-"+run)
	// The secret to a 0600 file, the id alone on stdout; the agent then
	// calls with AGENTIDP_CLIENT_SECRET_FILE.
	secretFile := filepath.Join(t.TempDir(), "a.secret")
	credID := strings.TrimSpace(h.ok(t, "credentials", "generate", mine.AgentID, "--secret-file", secretFile, "-o", "id"))
	if st, err := os.Stat(secretFile); err != nil || st.Mode().Perm() != 0o600 || credID == "" {
		t.Fatalf("--secret-file: %v %v, id %q", st, err, credID)
	}
	me := newHome(t).with("AGENTIDP_URL="+mesh.GatewayURL(), "AGENTIDP_CLIENT_ID="+mine.AgentID, "AGENTIDP_CLIENT_SECRET_FILE="+secretFile)
	eventually(t, func() error {
		if r := me.cli(t, "", "agents", "get", mine.AgentID); r.code != 0 {
			return fmt.Errorf("own agent: exit %d", r.code)
		}
		return nil
	})
	for _, args := range [][]string{
		{"agents", "get", theirs.AgentID},
		{"agents", "suspend", theirs.AgentID},
		{"agents", "update", theirs.AgentID, "--description", "mine now"},
		{"credentials", "list", theirs.AgentID},
		{"credentials", "generate", theirs.AgentID},
	} {
		if r := me.exits(t, 4, args...); !strings.Contains(r.err, "AGENT_NOT_FOUND") {
			t.Errorf("%v: %q", args, r.err)
		}
	}
	// Lists hold only the caller's owner.
	for _, a := range jsonOf[[]agent](t, me, "agents", "list") {
		if a.Owner != mine.Owner {
			t.Errorf("listed another owner's agent %+v", a)
		}
	}
	// No scope audit:read: auth (3).
	me.exits(t, 3, "audit", "query")
}

type event struct {
	EventID  string `json:"eventId"`
	Action   string `json:"action"`
	AgentID  string `json:"agentId"`
	Sequence int64  `json:"sequence"`
}

// The audit log: query, get, verify, and --follow printing new events.
func TestAudit(t *testing.T) {
	h := loggedIn(t)
	a := jsonOf[agent](t, h, "agents", "register", "--name", "audited-"+run, "--owner", "cli-audit-"+run)
	var registered event
	eventually(t, func() error {
		for _, e := range jsonOf[[]event](t, h, "audit", "query", "--agent", a.AgentID, "--action", "agent.registered") {
			registered = e
			return nil
		}
		return errors.New("no agent.registered event yet")
	})
	if got := jsonOf[event](t, h, "audit", "get", registered.EventID); got != registered {
		t.Errorf("get %+v, query %+v", got, registered)
	}
	if out := h.ok(t, "audit", "query", "--agent", a.AgentID, "--since", "1h"); !strings.Contains(out, "agent.registered") || !strings.HasPrefix(out, "TIME") {
		t.Errorf("table:\n%s", out)
	}
	h.exits(t, 4, "audit", "get", "0190c6e8-0000-7000-8000-00000000dead")
	h.exits(t, 2, "audit", "query", "--since", "yesterday")

	var v struct {
		OK            bool  `json:"ok"`
		EventsChecked int64 `json:"eventsChecked"`
	}
	if err := json.Unmarshal([]byte(h.ok(t, "audit", "verify", "-o", "json")), &v); err != nil || !v.OK || v.EventsChecked == 0 {
		t.Errorf("verify: %v %+v", err, v)
	}
	if out := h.ok(t, "audit", "verify"); !strings.Contains(out, "Intact:") || !strings.Contains(out, "true") {
		t.Errorf("verify table:\n%s", out)
	}
	// Signed checkpoints (every minute here: there may be none yet); each
	// one listed is complete.
	for _, cp := range jsonOf[[]struct {
		Sequence  int64  `json:"sequence"`
		Algorithm string `json:"algorithm"`
		Signature string `json:"signature"`
	}](t, h, "audit", "checkpoints") {
		if cp.Sequence <= 0 || cp.Algorithm == "" || cp.Signature == "" {
			t.Errorf("checkpoint %+v", cp)
		}
	}
	if out := h.ok(t, "audit", "checkpoints"); !strings.HasPrefix(out, "SEQ") {
		t.Errorf("checkpoints table:\n%s", out)
	}

	// --follow: the past event first, then the suspension as it happens;
	// progress on stderr; Ctrl-C ends it with 0.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := h.command(ctx, "audit", "query", "--follow", "--agent", a.AgentID, "--interval", "300ms", "-o", "json")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan event)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var e event
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Errorf("--follow -o json line %q: %v", sc.Text(), err)
				continue
			}
			lines <- e
		}
	}()
	next := func() event {
		t.Helper()
		select {
		case e, ok := <-lines:
			if !ok {
				t.Fatalf("--follow ended: %s", stderr.String())
			}
			return e
		case <-time.After(30 * time.Second):
			t.Fatalf("--follow printed nothing new: %s", stderr.String())
		}
		return event{}
	}
	if e := next(); e.EventID != registered.EventID {
		t.Errorf("first followed event %+v, want %+v", e, registered)
	}
	h.ok(t, "agents", "suspend", a.AgentID)
	if e := next(); e.Action != "agent.suspended" || e.AgentID != a.AgentID {
		t.Errorf("followed %+v, want agent.suspended", e)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	for range lines {
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("--follow after Ctrl-C: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "following audit events") {
		t.Errorf("no progress on stderr: %q", stderr.String())
	}
}

// syncBuffer is a bytes.Buffer that a process writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
