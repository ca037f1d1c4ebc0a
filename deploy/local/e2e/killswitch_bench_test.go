package e2e

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkKillSwitch gives make bench the kill-switch figure: each trial
// suspends an agent that is calling GET /v1/agents/{id} through Envoy in a
// loop (round robin over two authz replicas) and times, from the PATCH that
// suspends it, the first 401 and the start of the final run of 401s (every
// replica denies). TestKillSwitchThroughTheGateway asserts the same thing;
// this reports percentiles in Go's benchmark format for
// deploy/local/cmd/benchreport.
//
// Trials: min(b.N, $KILLSWITCH_TRIALS) (default 20), so that the
// -benchtime sized for the load benchmarks beside it stays cheap here.
func BenchmarkKillSwitch(b *testing.B) {
	if mesh == nil {
		b.Skip("needs the whole stack")
	}
	if n := len(mesh.Replicas("authz")); n < 2 {
		b.Fatalf("%d authz replicas; the kill switch must be measured on two", n)
	}
	trials := 20
	if v := os.Getenv("KILLSWITCH_TRIALS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("KILLSWITCH_TRIALS: %q is not a positive number", v)
		}
		trials = n
	}
	trials = min(trials, b.N)
	t := &testing.T{} // the e2e helpers take a *testing.T (as in bench_test.go)
	var firsts, alls []time.Duration
	for i := 0; i < trials; i++ {
		c := newAgentClient(t, "agents:read")
		var patchErr error
		first, all, n401, reason := measureKillSwitch(c, func() { patchErr = suspend(c.id) })
		switch {
		case patchErr != nil:
			b.Fatalf("trial %d: suspend: %v", i, patchErr)
		case n401 < 20:
			b.Fatalf("trial %d: only %d answers were 401 within 3s", i, n401)
		case reason != "AGENT_SUSPENDED":
			b.Fatalf("trial %d: first 401 says %s, want AGENT_SUSPENDED", i, reason)
		}
		firsts, alls = append(firsts, first), append(alls, all)
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(quantile(firsts, .5)), "first401-p50-ms")
	b.ReportMetric(ms(quantile(firsts, .99)), "first401-p99-ms")
	b.ReportMetric(ms(quantile(alls, .5)), "all401-p50-ms")
	b.ReportMetric(ms(quantile(alls, .99)), "all401-p99-ms")
	b.ReportMetric(float64(trials), "trials")
}

// suspend sets an agent's status to suspended through the gateway, as the
// admin.
func suspend(agentID string) error {
	req, err := http.NewRequest("PATCH", mesh.GatewayURL()+"/v1/agents/"+agentID+"?updateMask=status",
		strings.NewReader(`{"status":"suspended"}`))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("PATCH status: %d", resp.StatusCode)
	}
	return nil
}
