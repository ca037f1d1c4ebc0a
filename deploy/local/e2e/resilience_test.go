package e2e

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// TestRegistryOutage kills the registry while Envoy runs: callers get a
// fast 503, and service resumes when the registry is back, without touching
// Envoy.
func TestRegistryOutage(t *testing.T) {
	skipShort(t)
	id := register(t, newAgent("outage-probe"))["agentId"].(string)
	replica := mesh.Replicas("registry")[0]
	replica.Kill()

	for i := 0; i < 5; i++ {
		start := time.Now()
		r := call(t, "GET", "/v1/agents/"+id, nil)
		took := time.Since(start)
		if r.Status != http.StatusServiceUnavailable {
			t.Fatalf("with the registry down: status %d: %s", r.Status, r.Body)
		}
		if took > time.Second {
			t.Fatalf("503 took %s; want fast failure", took)
		}
		if r.reason(t) != "SERVICE_UNAVAILABLE" {
			t.Fatalf("reason: %s", r.Body)
		}
	}

	if err := replica.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		r := call(t, "GET", "/v1/agents/"+id, nil)
		if r.Status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("registry back, but the gateway still answers %d: %s", r.Status, r.Body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestSecondReplicaIsLoadBalanced adds a registry replica to the gateway's
// configuration at run time; Envoy then spreads requests over both.
func TestSecondReplicaIsLoadBalanced(t *testing.T) {
	skipShort(t)
	id := register(t, newAgent("balance-probe"))["agentId"].(string)
	second, err := mesh.StartReplica(context.Background(), "registry", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	replicas := mesh.Replicas("registry")
	deadline := time.Now().Add(20 * time.Second)
	for {
		for i := 0; i < 20; i++ {
			expect(t, call(t, "GET", "/v1/agents/"+id, nil), http.StatusOK)
		}
		served := 0
		for _, r := range replicas {
			if getAgentCalls(t, r.AdminAddr) > 0 {
				served++
			}
		}
		if served == len(replicas) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d replicas served GetAgent (second on %s)", served, len(replicas), second.Addr)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

var getAgentOK = regexp.MustCompile(`agentidp_grpc_server_handled_total\{grpc_code="OK",grpc_method="GetAgent",grpc_service="agentidp.registry.v1.RegistryService"\} (\d+)`)

// getAgentCalls reads a replica's count of successful GetAgent calls.
func getAgentCalls(t *testing.T, httpAddr string) int {
	t.Helper()
	resp, err := http.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := getAgentOK.FindSubmatch(b)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}
