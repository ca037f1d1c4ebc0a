package grpcclient_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/sentryagent/agentidp/libs/grpcclient"
	"github.com/sentryagent/agentidp/libs/testkit"
)

// TestBreakerStateMetric: the gauge follows the breaker from closed to open
// (dependency gone) to half-open (timeout passed), read at scrape time.
func TestBreakerStateMetric(t *testing.T) {
	reg := prometheus.NewRegistry()
	state := grpcclient.NewBreakerState(reg)
	if again := grpcclient.NewBreakerState(reg); again != state {
		t.Fatal("a second NewBreakerState on one registry must return the first")
	}
	addr := testkit.Addr(testkit.MustFreePort(t)) // nothing listens
	conn, err := grpcclient.Dial(addr, grpcclient.Config{
		Name: "credentials", Timeout: 200 * time.Millisecond, FailureThreshold: 2,
		OpenFor: 300 * time.Millisecond, BreakerState: state,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	want := func(v int) {
		t.Helper()
		exp := `
# HELP agentidp_grpc_client_breaker_state State of the circuit breaker in front of a dependency: 0 closed, 1 half-open, 2 open.
# TYPE agentidp_grpc_client_breaker_state gauge
agentidp_grpc_client_breaker_state{dependency="credentials"} ` + string(rune('0'+v)) + "\n"
		if err := testutil.GatherAndCompare(reg, strings.NewReader(exp), "agentidp_grpc_client_breaker_state"); err != nil {
			t.Fatal(err)
		}
	}
	want(0)
	for i := 0; i < 2; i++ {
		_, _ = healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{})
	}
	want(2)
	time.Sleep(400 * time.Millisecond)
	want(1)
}
