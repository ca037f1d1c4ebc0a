package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sentryagent/agentidp/deploy/local/monitoring"
	"github.com/sentryagent/agentidp/deploy/local/stack"
	"github.com/sentryagent/agentidp/libs/testkit"
)

// TestObservability runs a real Prometheus against the mesh, drives a
// little traffic, and evaluates every expression of the Grafana dashboard
// and of the alert rules through Prometheus' HTTP API.
func TestObservability(t *testing.T) {
	skipShort(t)
	root, err := stack.FindRepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	rules := filepath.Join(root, "deploy", "monitoring", "alerts.yml")
	dir := t.TempDir()
	conf := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(conf, monitoring.PrometheusConfig(mesh.MetricsTargets(), rules, "1s"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"check", "config", conf}, {"check", "rules", rules}} {
		if out, err := exec.Command("promtool", args...).CombinedOutput(); err != nil {
			t.Fatalf("promtool %v: %v\n%s", args, err, out)
		}
	}
	prom, err := testkit.StartPrometheus(context.Background(), testkit.PrometheusConfig{Dir: dir, ConfigPath: conf})
	if err != nil {
		t.Fatal(err)
	}
	defer prom.Stop()

	// Traffic: writes, reads, client errors, a credential.
	id := register(t, newAgent("observed"))["agentId"].(string)
	for i := 0; i < 20; i++ {
		call(t, "GET", "/v1/agents/"+id, nil)
		call(t, "GET", "/v1/agents/0190f8a0-0000-7000-8000-000000000000", nil)
	}
	call(t, "POST", "/v1/agents/"+id+"/credentials", map[string]any{})
	clientID, secret := newClient(t, "agents:read")
	for i := 0; i < 10; i++ {
		issueToken(t, clientID, secret, http.StatusOK)
	}
	issueToken(t, clientID, secret+"x", http.StatusUnauthorized)

	// Denials: no token, an insufficient scope (authz answers 401 and 403).
	agent := newAgentClient(t, "agents:read")
	for i := 0; i < 5; i++ {
		expect(t, send(t, "GET", "/v1/agents/"+agent.id, nil), http.StatusUnauthorized)
		expect(t, callAs(t, agent.token, "POST", "/v1/agents", newAgent("not-allowed")), http.StatusForbidden)
	}
	// 429s: a tight per-agent limit on one route (the e2e mesh lifts the
	// token endpoint's own limit for its benchmarks).
	setPolicyRoute(t, "VerifyAuditChain", func(r, limits map[string]any) {
		r["scopes"] = []string{"agents:read"}
		r["rate_limit"] = "tight"
		limits["tight"] = map[string]any{"per_second": 1, "burst": 2}
	})
	limited := 0
	eventually(t, 10*time.Second, func() error {
		if callAs(t, agent.token, "GET", "/v1/audit/verify", nil).Status == http.StatusTooManyRequests {
			limited++
		}
		if limited < 3 {
			return fmt.Errorf("%d responses were 429", limited)
		}
		return nil
	})
	setPolicyRoute(t, "VerifyAuditChain", func(r, _ map[string]any) {
		r["scopes"] = []string{"audit:read", "platform:admin"}
		delete(r, "rate_limit")
	})

	query := func(expr string) (int, error) {
		resp, err := http.Get(prom.URL() + "/api/v1/query?query=" + url.QueryEscape(expr))
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		var body struct {
			Status string `json:"status"`
			Error  string `json:"error"`
			Data   struct {
				Result []json.RawMessage `json:"result"`
			} `json:"data"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			return 0, err
		}
		if body.Status != "success" {
			return 0, fmt.Errorf("%s", body.Error)
		}
		return len(body.Data.Result), nil
	}

	// Every target is up (scraped at least twice, so rate() has data).
	deadline := time.Now().Add(30 * time.Second)
	for {
		up, err := query(`count(up == 1) and count(count_over_time(up[1m]) >= 3)`)
		if err == nil && up > 0 {
			down, _ := query(`up == 0`)
			if down == 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("targets not all up and scraped: %v", err)
		}
		time.Sleep(500 * time.Millisecond)
	}

	// The denials and 429s driven above reached Prometheus, by their labels.
	for _, expr := range []string{
		`sum(agentidp_rate_limit_rejections_total{job="authz"}) >= 3`,
		`sum(agentidp_authz_decisions_total{result="deny",reason="RATE_LIMITED"}) >= 3`,
		`sum(agentidp_authz_decisions_total{result="deny",reason="INSUFFICIENT_SCOPE"}) >= 5`,
		`sum(agentidp_tokens_issued_total{outcome="invalid_client"}) >= 1`,
		`sum(envoy_http_downstream_rq_xx{envoy_http_conn_manager_prefix="agentidp",envoy_response_code_class="4"}) >= 13`,
	} {
		eventually(t, 15*time.Second, func() error {
			if n, err := query(expr); err != nil || n == 0 {
				return fmt.Errorf("%s: no data (%v)", expr, err)
			}
			return nil
		})
	}

	running := map[string]bool{"envoy": true}
	for job := range mesh.MetricsTargets() {
		running[job] = true
	}
	t.Run("dashboard panels return data", func(t *testing.T) {
		for _, e := range monitoring.Expressions() {
			if e.Needs != "" && !running[e.Needs] {
				t.Logf("panel %q skipped: it needs %s, which the stack does not run yet", e.Panel, e.Needs)
				continue
			}
			var n int
			var err error
			for try := 0; try < 20; try++ {
				if n, err = query(e.Expr); err == nil && n > 0 {
					break
				}
				time.Sleep(500 * time.Millisecond)
			}
			if err != nil {
				t.Errorf("panel %q: %s: %v", e.Panel, e.Expr, err)
			} else if n == 0 {
				t.Errorf("panel %q returns no data: %s", e.Panel, e.Expr)
			}
		}
	})

	t.Run("alert rules parse and evaluate", func(t *testing.T) {
		b, err := os.ReadFile(rules)
		if err != nil {
			t.Fatal(err)
		}
		for _, expr := range alertExprs(string(b)) {
			if _, err := query(expr); err != nil {
				t.Errorf("alert expression %q: %v", expr, err)
			}
		}
	})

	t.Run("labels stay bounded", func(t *testing.T) {
		// No label value may be an id: they grow with agents and requests.
		resp, err := http.Get(prom.URL() + "/api/v1/series?match[]=" + url.QueryEscape(`{__name__=~"agentidp_.+"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			Data []map[string]string `json:"data"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		if len(body.Data) == 0 {
			t.Fatal("no agentidp_ series")
		}
		uuid := regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
		for _, series := range body.Data {
			for k, v := range series {
				if uuid.MatchString(v) || strings.Contains(v, "agentidp_sk_") {
					t.Errorf("series %s has an unbounded label %s=%q", series["__name__"], k, v)
				}
			}
		}
	})

	t.Run("dashboard names only exported metrics", func(t *testing.T) {
		for _, e := range monitoring.Expressions() {
			if e.Needs != "" && !running[e.Needs] {
				continue
			}
			for _, m := range monitoring.MetricsOf(e.Expr) {
				n, err := query(fmt.Sprintf(`count({__name__=~"%s(_bucket|_sum|_count)?"})`, m))
				if err != nil || n == 0 {
					t.Errorf("panel %q names %s, which no process exports", e.Panel, m)
				}
			}
		}
	})
}

// alertExprs pulls the expressions out of a Prometheus rules file.
func alertExprs(rules string) []string {
	var out []string
	lines := strings.Split(rules, "\n")
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		if !strings.HasPrefix(line, "expr:") {
			continue
		}
		rest := strings.TrimSpace(strings.TrimPrefix(line, "expr:"))
		if rest != "|" {
			out = append(out, rest)
			continue
		}
		indent := -1
		var block []string
		for i+1 < len(lines) {
			next := lines[i+1]
			trimmed := strings.TrimLeft(next, " ")
			ind := len(next) - len(trimmed)
			if trimmed == "" || (indent >= 0 && ind < indent) || (indent < 0 && ind <= strings.Index(lines[i], "expr:")) {
				break
			}
			if indent < 0 {
				indent = ind
			}
			block = append(block, trimmed)
			i++
		}
		out = append(out, strings.Join(block, " "))
	}
	return out
}
