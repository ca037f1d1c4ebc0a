package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// eventually retries f until it succeeds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// loop calls GET path with tok as fast as it can until stop is closed and
// records when each answer arrived.
type loop struct {
	mu      sync.Mutex
	answers []answer
	done    chan struct{}
}

type answer struct {
	at     time.Time
	status int
	reason string
}

func startLoop(t *testing.T, tok, path string, stop <-chan struct{}) *loop {
	l := &loop{done: make(chan struct{})}
	hc := &http.Client{Timeout: 5 * time.Second}
	go func() {
		defer close(l.done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			req, _ := http.NewRequest("GET", mesh.GatewayURL()+path, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := hc.Do(req)
			if err != nil {
				continue
			}
			var reason string
			if resp.StatusCode != 200 {
				b := make([]byte, 2048)
				n, _ := resp.Body.Read(b)
				if i := strings.Index(string(b[:n]), `"reason":"`); i >= 0 {
					reason, _, _ = strings.Cut(string(b[i+10:n]), `"`)
				}
			}
			resp.Body.Close()
			l.mu.Lock()
			l.answers = append(l.answers, answer{time.Now(), resp.StatusCode, reason})
			l.mu.Unlock()
		}
	}()
	return l
}

// after returns, relative to t0, when the first 401 came, and when the 401
// came that began the final run of 401s (from then on every answer, from
// every authz replica, was 401).
func (l *loop) after(t0 time.Time) (first401, allDenied time.Duration, n401 int, reason string) {
	<-l.done
	first401, allDenied = -1, -1
	for _, a := range l.answers {
		if a.at.Before(t0) {
			continue
		}
		switch a.status {
		case 200:
			allDenied = -1
		case 401:
			n401++
			if first401 < 0 {
				first401, reason = a.at.Sub(t0), a.reason
			}
			if allDenied < 0 {
				allDenied = a.at.Sub(t0)
			}
		}
	}
	return first401, allDenied, n401, reason
}

func quantile(ds []time.Duration, q float64) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[int(q*float64(len(s)-1))]
}

// killSwitchTrial runs an agent's loop of calls through Envoy (round robin
// over both authz replicas), applies change, and measures from the moment
// the change was sent until the first 401 and until the last 200.
func killSwitchTrial(t *testing.T, c agentClient, wantReason string, change func()) (first, all time.Duration) {
	t.Helper()
	first, all, n401, reason := measureKillSwitch(c, change)
	if n401 < 20 {
		t.Fatalf("only %d answers were 401 within 3s", n401)
	}
	if reason != wantReason {
		t.Fatalf("first 401 says %s, want %s", reason, wantReason)
	}
	return first, all
}

// measureKillSwitch is killSwitchTrial without the checks (BenchmarkKillSwitch
// reports its own): it also returns how many answers were 401 and the
// reason the first one gave.
func measureKillSwitch(c agentClient, change func()) (first, all time.Duration, n401 int, reason string) {
	stop := make(chan struct{})
	l := startLoop(nil, c.token, "/v1/agents/"+c.id, stop)
	time.Sleep(50 * time.Millisecond) // calls are flowing, all allowed
	t0 := time.Now()
	change()
	deadline := time.Now().Add(3 * time.Second)
	for {
		l.mu.Lock()
		n := 0
		for i := len(l.answers) - 1; i >= 0 && l.answers[i].status == 401; i-- {
			n++
		}
		l.mu.Unlock()
		if n >= 20 || time.Now().After(deadline) { // both replicas answer 401 by now
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(stop)
	return l.after(t0)
}

// TestKillSwitchThroughTheGateway: suspending an agent while it calls the
// API in a loop; the time from the suspension to its first 401, and until
// no replica answers 200 any more, over 20 agents and two authz replicas.
// Then credential revocation, token revocation and decommissioning.
func TestKillSwitchThroughTheGateway(t *testing.T) {
	skipShort(t)
	if n := len(mesh.Replicas("authz")); n < 2 {
		t.Fatalf("%d authz replicas; the kill switch must be measured on two", n)
	}
	const trials = 20
	var firsts, alls []time.Duration
	for i := 0; i < trials; i++ {
		c := newAgentClient(t, "agents:read")
		first, all := killSwitchTrial(t, c, "AGENT_SUSPENDED", func() {
			expect(t, call(t, "PATCH", "/v1/agents/"+c.id+"?updateMask=status", map[string]any{"status": "suspended"}), http.StatusOK)
		})
		firsts, alls = append(firsts, first), append(alls, all)
	}
	t.Logf("suspension → first 401: p50 %s, p99 %s, max %s", quantile(firsts, .5).Round(time.Millisecond),
		quantile(firsts, .99).Round(time.Millisecond), quantile(firsts, 1).Round(time.Millisecond))
	t.Logf("suspension → every replica 401: p50 %s, p99 %s, max %s (%d trials, 2 authz replicas)",
		quantile(alls, .5).Round(time.Millisecond), quantile(alls, .99).Round(time.Millisecond),
		quantile(alls, 1).Round(time.Millisecond), trials)
	if p99 := quantile(alls, .99); p99 > time.Second {
		t.Fatalf("kill switch p99 %s > 1s", p99)
	}
	reportFigure("kill switch (suspension, 2 authz replicas, %d trials): first 401 p50 %s p99 %s; all replicas p50 %s p99 %s",
		trials, quantile(firsts, .5).Round(time.Millisecond), quantile(firsts, .99).Round(time.Millisecond),
		quantile(alls, .5).Round(time.Millisecond), quantile(alls, .99).Round(time.Millisecond))

	others := []struct {
		name, reason string
		change       func(c agentClient)
	}{
		{"credential revocation", "TOKEN_REVOKED", func(c agentClient) {
			expect(t, call(t, "DELETE", "/v1/agents/"+c.id+"/credentials/"+c.credentialID, nil), http.StatusOK)
		}},
		{"token revocation", "TOKEN_REVOKED", func(c agentClient) { c.revoke(t, c.token) }},
		{"decommissioning", "TOKEN_REVOKED", func(c agentClient) {
			expect(t, call(t, "DELETE", "/v1/agents/"+c.id, nil), http.StatusOK)
		}},
	}
	for _, o := range others {
		c := newAgentClient(t, "agents:read")
		first, all := killSwitchTrial(t, c, o.reason, func() { o.change(c) })
		t.Logf("%s → first 401 %s, every replica %s", o.name, first.Round(time.Millisecond), all.Round(time.Millisecond))
		if all > time.Second {
			t.Fatalf("%s took %s", o.name, all)
		}
		reportFigure("kill switch (%s): first 401 %s, all replicas %s", o.name, first.Round(time.Millisecond), all.Round(time.Millisecond))
	}
}

// reportFigure appends a measured figure to $AGENTIDP_FIGURES, if set
// (scripts collect them for notes).
func reportFigure(format string, args ...any) {
	path := os.Getenv("AGENTIDP_FIGURES")
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, format+"\n", args...)
}

// TestPolicyHotReload edits the authz services' policy directory under the
// running mesh: a scope change takes effect on both replicas without a
// restart, a syntax error leaves the old policy serving, and a tight rate
// limit answers 429 with Retry-After.
func TestPolicyHotReload(t *testing.T) {
	skipShort(t)
	dir := mesh.PolicyDir()
	// A platform admin without audit:read: the policy alone decides whether
	// it may verify the audit chain (the audit service lets the platform).
	c := newAgentClient(t, "agents:read", "platform:admin")
	// Every replica answers want, several times in a row (round robin).
	settle := func(path string, want int) {
		t.Helper()
		eventually(t, 10*time.Second, func() error {
			for i := 0; i < 6; i++ {
				if r := callAs(t, c.token, "GET", path, nil); r.Status != want {
					return fmt.Errorf("%s: %d, want %d", path, r.Status, want)
				}
			}
			return nil
		})
	}
	setRoute := func(operation string, set func(route, limits map[string]any)) {
		t.Helper()
		setPolicyRoute(t, operation, set)
	}
	expect(t, callAs(t, c.token, "GET", "/v1/audit/verify", nil), http.StatusForbidden)
	original := []string{"audit:read", "platform:admin"}

	t.Run("editing scopes.json changes decisions", func(t *testing.T) {
		setRoute("VerifyAuditChain", func(r, _ map[string]any) { r["scopes"] = []string{"agents:read"} })
		settle("/v1/audit/verify", 200)
		setRoute("VerifyAuditChain", func(r, _ map[string]any) { r["scopes"] = original })
		settle("/v1/audit/verify", 403)
	})

	t.Run("a syntax error leaves the old policy serving", func(t *testing.T) {
		path := filepath.Join(dir, "authz.rego")
		good, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		defer os.WriteFile(path, good, 0o644)
		if err := os.WriteFile(path, append(append([]byte{}, good...), "\ndecision := {\n"...), 0o644); err != nil {
			t.Fatal(err)
		}
		eventually(t, 10*time.Second, func() error {
			for _, r := range mesh.Replicas("authz") {
				if !strings.Contains(metricsOf(t, r.AdminAddr), `agentidp_authz_policy_reloads_total{result="rejected"} `) ||
					strings.Contains(metricsOf(t, r.AdminAddr), `agentidp_authz_policy_reloads_total{result="rejected"} 0`) {
					return fmt.Errorf("%s has not rejected the broken policy yet", r.AdminAddr)
				}
			}
			return nil
		})
		settle("/v1/audit/verify", 403)
		settle("/v1/agents/"+c.id, 200)
	})

	t.Run("a rate limit answers 429 with Retry-After", func(t *testing.T) {
		setRoute("VerifyAuditChain", func(r, limits map[string]any) {
			r["scopes"] = []string{"agents:read"}
			r["rate_limit"] = "tight"
			limits["tight"] = map[string]any{"per_second": 1, "burst": 2}
		})
		defer setRoute("VerifyAuditChain", func(r, _ map[string]any) {
			r["scopes"] = original
			delete(r, "rate_limit")
		})
		var limited response
		eventually(t, 10*time.Second, func() error {
			r := callAs(t, c.token, "GET", "/v1/audit/verify", nil)
			if r.Status == http.StatusTooManyRequests {
				limited = r
				return nil
			}
			return fmt.Errorf("status %d", r.Status)
		})
		if limited.reason(t) != "RATE_LIMITED" || limited.Header.Get("Retry-After") == "" {
			t.Fatalf("429 without its reason or Retry-After: %v %s", limited.Header, limited.Body)
		}
		// Another agent is not affected.
		expect(t, call(t, "GET", "/v1/agents/"+c.id, nil), http.StatusOK)
	})
}

// setPolicyRoute edits one route of the authz services' scope table
// (policies/data/scopes.json in the mesh's policy directory) and the table's
// rate limits; the services reload it within a second.
func setPolicyRoute(t *testing.T, operation string, set func(route, limits map[string]any)) {
	t.Helper()
	err := editScopes(mesh.PolicyDir(), func(doc map[string]any) {
		for _, r := range doc["routes"].([]any) {
			route := r.(map[string]any)
			if route["operation"] == operation {
				set(route, doc["rate_limits"].(map[string]any))
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}

func metricsOf(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return b.String()
}
