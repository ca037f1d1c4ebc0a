package app_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func rewrite(t *testing.T, path string, edit func(string) string) (restore func()) {
	t.Helper()
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	writeAtomically(t, path, edit(string(old)))
	return func() { writeAtomically(t, path, string(old)) }
}

func writeAtomically(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestHotReload: the policy directory is re-read when it changes (and on
// SIGHUP); a version that does not compile or fails its own tests is
// refused and the previous one keeps deciding.
func TestHotReload(t *testing.T) {
	p := startPlatform(t)
	a := p.startAuthz(t, nil)
	c := p.agent("agents:read")
	tok := p.token(c, "")
	scopes := filepath.Join(a.policyDir, "data", "scopes.json")
	rego := filepath.Join(a.policyDir, "authz.rego")
	verify := func() int { return a.call("GET", "/v1/audit/verify", "", bearer(tok)...).status }
	if s := verify(); s != 403 {
		t.Fatalf("before: %d", s)
	}
	// Checks keep flowing through every reload below (another agent, paced
	// under its rate limit): none may fail.
	busy := p.token(p.agent("agents:read"), "")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var bad atomic.Int64
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if s := a.call("GET", "/v1/agents", "", bearer(busy)...).status; s != 200 {
					bad.Add(1)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}()
	}
	defer func() {
		close(stop)
		wg.Wait()
		if n := bad.Load(); n > 0 {
			t.Errorf("%d checks in flight during reloads did not answer 200", n)
		}
	}()

	t.Run("editing scopes.json changes decisions", func(t *testing.T) {
		restore := rewrite(t, scopes, func(s string) string { return setScopes(t, s, "VerifyAuditChain", "agents:read") })
		eventually(t, 5*time.Second, func() error {
			if s := verify(); s != 200 {
				return fmt.Errorf("status %d", s)
			}
			return nil
		})
		restore()
		eventually(t, 5*time.Second, func() error {
			if s := verify(); s != 403 {
				return fmt.Errorf("status %d after restoring", s)
			}
			return nil
		})
		if n := a.metric("agentidp_authz_policy_reloads_total", "result", "applied"); n != 2 {
			t.Fatalf("applied reloads %v", n)
		}
	})

	t.Run("a syntax error leaves the old policy serving", func(t *testing.T) {
		restore := rewrite(t, rego, func(s string) string { return s + "\nthis is not rego {\n" })
		defer restore()
		eventually(t, 5*time.Second, func() error {
			if n := a.metric("agentidp_authz_policy_reloads_total", "result", "rejected"); n < 1 {
				return fmt.Errorf("not rejected yet")
			}
			return nil
		})
		if s := verify(); s != 403 {
			t.Fatalf("after a broken edit: %d", s)
		}
		if r := a.call("GET", "/v1/agents", "", bearer(tok)...); r.status != 200 {
			t.Fatalf("after a broken edit: %d %s", r.status, r.body)
		}
	})

	t.Run("a policy failing its own tests is refused", func(t *testing.T) {
		before := a.metric("agentidp_authz_policy_reloads_total", "result", "rejected")
		// Every agents:read route would need agents:write: authz_test.rego objects.
		restore := rewrite(t, scopes, func(s string) string {
			return strings.ReplaceAll(s, `"scopes": ["agents:read"]`, `"scopes": ["agents:write"]`)
		})
		defer restore()
		eventually(t, 5*time.Second, func() error {
			if n := a.metric("agentidp_authz_policy_reloads_total", "result", "rejected"); n <= before {
				return fmt.Errorf("not rejected yet")
			}
			return nil
		})
		if r := a.call("GET", "/v1/agents", "", bearer(tok)...); r.status != 200 {
			t.Fatalf("the refused version decides: %d %s", r.status, r.body)
		}
	})

	t.Run("SIGHUP reloads at once", func(t *testing.T) {
		slow := p.startAuthz(t, map[string]string{"POLICY_POLL_INTERVAL": "1h"})
		path := filepath.Join(slow.policyDir, "data", "scopes.json")
		rewrite(t, path, func(s string) string { return setScopes(t, s, "VerifyAuditChain", "agents:read") })
		time.Sleep(300 * time.Millisecond)
		if r := slow.call("GET", "/v1/audit/verify", "", bearer(tok)...); r.status != 403 {
			t.Fatalf("reloaded without SIGHUP: %d", r.status)
		}
		slow.hup <- syscall.SIGHUP
		eventually(t, 5*time.Second, func() error {
			if r := slow.call("GET", "/v1/audit/verify", "", bearer(tok)...); r.status != 200 {
				return fmt.Errorf("status %d after SIGHUP", r.status)
			}
			return nil
		})
	})
}

// setScopes returns the scope table s with the scopes of one operation replaced.
func setScopes(t *testing.T, s, operation string, scopes ...string) string {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal([]byte(s), &doc); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range doc["routes"].([]any) {
		route := r.(map[string]any)
		if route["operation"] == operation {
			route["scopes"], found = scopes, true
		}
	}
	if !found {
		t.Fatalf("no route %s", operation)
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRateLimit: an agent over its bucket's limit gets 429 with
// Retry-After, counted; other agents are not affected.
func TestRateLimit(t *testing.T) {
	p := startPlatform(t)
	dir := copyPolicies(t)
	scopes := filepath.Join(dir, "data", "scopes.json")
	b, _ := os.ReadFile(scopes)
	s := strings.Replace(string(b), `"default": {"per_second": 100, "burst": 200}`, `"default": {"per_second": 1, "burst": 3}`, 1)
	if err := os.WriteFile(scopes, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	a := p.startAuthz(t, map[string]string{"POLICY_DIR": dir})
	busy := p.agent("agents:read")
	busyTok := p.token(busy, "")
	calm := p.agent("agents:read")
	calmTok := p.token(calm, "")
	var limited checked
	for i := 0; i < 10; i++ {
		r := a.call("GET", "/v1/agents", "", bearer(busyTok)...)
		if r.status == 429 {
			limited = r
			if i < 3 {
				t.Fatalf("limited after %d calls; the burst is 3", i)
			}
			break
		}
	}
	if limited.status != 429 || limited.reason() != "RATE_LIMITED" || limited.headers["retry-after"] == "" {
		t.Fatalf("no 429: %+v", limited)
	}
	if r := a.call("GET", "/v1/agents", "", bearer(calmTok)...); r.status != 200 {
		t.Fatalf("another agent: %d %s", r.status, r.body)
	}
	if a.metric("agentidp_rate_limit_rejections_total") < 1 {
		t.Fatal("rejection not counted")
	}
}
