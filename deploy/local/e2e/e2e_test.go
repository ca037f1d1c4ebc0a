// Package e2e drives the REST API through the real Envoy gateway, control
// plane, services, PostgreSQL and Redis, all started by deploy/local/stack
// on free ports, the way a user (or an SDK) would.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sentryagent/agentidp/deploy/local/stack"
)

var (
	mesh   *stack.Stack
	client = &http.Client{Timeout: 10 * time.Second}
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if testingShort() {
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "agentidp-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ports, err := stack.FreePorts()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	mesh, err = stack.Start(ctx, stack.Config{Dir: dir, Ports: ports, Logger: logger,
		// Two token replicas behind Envoy, sharing Redis and the keys.
		TokenReplicas: 2,
		// The benchmarks drive one client hard; the limiter has its own tests.
		ExtraEnv: map[string][]string{"token": {"RATE_LIMIT_PER_SECOND=1000000", "RATE_LIMIT_BURST=1000000"}},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start stack:", err)
		return 1
	}
	code := m.Run()
	if code != 0 {
		dumpLogs(dir)
	}
	mesh.Stop()
	return code
}

func testingShort() bool {
	for _, a := range os.Args {
		if a == "-test.short" || a == "-test.short=true" {
			return true
		}
	}
	return false
}

// dumpLogs prints the tail of every process log after a failure.
func dumpLogs(dir string) {
	entries, _ := os.ReadDir(dir + "/logs")
	for _, e := range entries {
		b, _ := os.ReadFile(dir + "/logs/" + e.Name())
		if len(b) > 3000 {
			b = b[len(b)-3000:]
		}
		fmt.Fprintf(os.Stderr, "\n==== %s (tail) ====\n%s\n", e.Name(), b)
	}
}

func skipShort(t *testing.T) {
	if mesh == nil {
		t.Skip("needs the whole stack; skipped in -short mode")
	}
}

// response is a decoded HTTP answer.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body is not a JSON object (%v): %s", err, r.Body)
	}
	return m
}

// reason returns the ErrorInfo reason of a google.rpc.Status body.
func (r response) reason(t *testing.T) string {
	t.Helper()
	details, _ := r.JSON(t)["details"].([]any)
	for _, d := range details {
		if m, ok := d.(map[string]any); ok && m["@type"] == "type.googleapis.com/google.rpc.ErrorInfo" {
			return fmt.Sprint(m["reason"])
		}
	}
	t.Fatalf("no ErrorInfo in %s", r.Body)
	return ""
}

func call(t *testing.T, method, path string, body any, headers ...string) response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, mesh.GatewayURL()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

func expect(t *testing.T, r response, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
}

func newAgent(name string) map[string]any {
	return map[string]any{
		"name": name, "owner": "team-e2e", "agentType": "assistant", "version": "1.0.0",
		"scopes": []string{"agents:read"}, "capabilities": []string{"web.search"},
		"metadata": map[string]string{"team": "e2e"},
	}
}

func register(t *testing.T, body map[string]any) map[string]any {
	t.Helper()
	r := call(t, "POST", "/v1/agents", body)
	expect(t, r, http.StatusCreated)
	return r.JSON(t)
}
