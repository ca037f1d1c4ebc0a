package app_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/sentryagent/agentidp/gateway/envoy"
	"github.com/sentryagent/agentidp/gateway/internal/app"
	"github.com/sentryagent/agentidp/libs/config"
	"github.com/sentryagent/agentidp/libs/metrics"
	"github.com/sentryagent/agentidp/libs/testkit"
)

// upstreamTimeout is short so that the timeout case costs little.
const upstreamTimeout = 500 * time.Millisecond

// stack is a control plane in this process, a real Envoy it configures, and
// fake registry backends.
type stack struct {
	t          *testing.T
	configPath string
	listenPort int
	httpAddr   string
	envoy      *testkit.Envoy
	client     *http.Client
	// authz answers Envoy's ext_authz checks (fake_authz_test.go).
	authz *fakeAuthz
}

func startStack(t *testing.T, endpoints ...string) *stack {
	t.Helper()
	return startStackEnv(t, nil, endpoints...)
}

// startStackEnv is startStack with extra control plane settings.
func startStackEnv(t *testing.T, extraEnv map[string]string, endpoints ...string) *stack {
	t.Helper()
	return startStackAuthz(t, extraEnv, nil, endpoints...)
}

// startStackAuthz is startStackEnv with the fake authz server's options.
func startStackAuthz(t *testing.T, extraEnv map[string]string, authzOpts []grpc.ServerOption, endpoints ...string) *stack {
	t.Helper()
	testkit.SkipIfShort(t)
	dir := t.TempDir()
	s := &stack{
		t:          t,
		configPath: filepath.Join(dir, "gateway.yaml"),
		listenPort: testkit.MustFreePort(t),
		client:     &http.Client{Timeout: 10 * time.Second},
		authz:      startFakeAuthz(t, authzOpts...),
	}
	s.writeConfig(endpoints...)

	xdsAddr := testkit.Addr(testkit.MustFreePort(t))
	s.httpAddr = testkit.Addr(testkit.MustFreePort(t))
	env := map[string]string{
		"AGENTIDP_INSECURE_PLAINTEXT":  "true",
		"GATEWAY_CONFIG":               s.configPath,
		"XDS_ADDR":                     xdsAddr,
		"HTTP_ADDR":                    s.httpAddr,
		"GATEWAY_CONFIG_POLL_INTERVAL": "100ms",
		"GATEWAY_UPSTREAM_TIMEOUT":     upstreamTimeout.String(),
		"SHUTDOWN_TIMEOUT":             "1s",
	}
	for k, v := range extraEnv {
		env[k] = v
	}
	cfg, err := config.LoadFrom[app.Config](env)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	errc := make(chan error, 1)
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	a, err := app.New(ctx, cfg, app.Deps{
		Logger:  logger,
		Metrics: metrics.NewRegistry(),
		Ready:   func(net.Addr, net.Addr) { close(ready) },
	})
	if err != nil {
		cancel()
		t.Fatalf("app.New: %v", err)
	}
	go func() { errc <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil && err != context.Canceled {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case <-ready:
	case err := <-errc:
		t.Fatalf("Run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("control plane did not start")
	}

	adminPort := testkit.MustFreePort(t)
	boot, err := envoy.Bootstrap{XDSAddr: xdsAddr, AdminAddr: testkit.Addr(adminPort), NodeID: cfg.NodeID}.Render()
	if err != nil {
		t.Fatal(err)
	}
	e, err := testkit.StartEnvoy(context.Background(), testkit.EnvoyConfig{
		BootstrapYAML: string(boot), Dir: filepath.Join(dir, "envoy"), AdminPort: adminPort,
	})
	if err != nil {
		t.Fatal(err)
	}
	s.envoy = e
	t.Cleanup(func() {
		e.Stop()
		if t.Failed() || os.Getenv("GATEWAY_TEST_ENVOY_LOG") != "" {
			log, _ := os.ReadFile(e.LogPath)
			t.Logf("envoy log:\n%s", lastLines(string(log), 60))
		}
	})
	if err := testkit.WaitTCP(context.Background(), testkit.Addr(s.listenPort), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	return s
}

// envoyStat reads one counter from Envoy's admin /stats.
func (s *stack) envoyStat(name string) string {
	s.t.Helper()
	body, err := s.envoy.Admin(context.Background(), "/stats?filter=^"+regexp.QuoteMeta(name)+"$")
	if err != nil {
		s.t.Fatal(err)
	}
	_, v, _ := strings.Cut(strings.TrimSpace(string(body)), ": ")
	return v
}

// writeConfig replaces the gateway config file atomically (as an editor or
// a config-management tool would), so the watcher never reads half a file.
func (s *stack) writeConfig(endpoints ...string) {
	s.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "listener: {address: 127.0.0.1, port: %d}\nservices:\n  registry:\n    endpoints:\n", s.listenPort)
	for _, ep := range endpoints {
		fmt.Fprintf(&b, "      - %q\n", ep)
	}
	fmt.Fprintf(&b, "  authz:\n    endpoints: [%q]\n", s.authz.Addr())
	if err := writeFile(s.configPath, b.String()); err != nil {
		s.t.Fatal(err)
	}
}

func writeFile(path, content string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func (s *stack) url(path string) string { return "http://" + testkit.Addr(s.listenPort) + path }

type response struct {
	status int
	header http.Header
	body   string
}

// do sends a request through Envoy; header is name, value pairs. Unless
// the caller sets Authorization, an API request (/v1/...) carries a token
// the fake authz service accepts.
func (s *stack) do(method, path, body string, header ...string) response {
	s.t.Helper()
	for i := 0; i+1 < len(header); i += 2 {
		if strings.EqualFold(header[i], "authorization") {
			return s.get(method, s.url(path), body, header...)
		}
	}
	if !strings.Contains(strings.ToLower(path), "/v1/") {
		return s.get(method, s.url(path), body, header...)
	}
	return s.get(method, s.url(path), body, append([]string{"Authorization", "Bearer " + okToken}, header...)...)
}

func (s *stack) get(method, url, body string, header ...string) response {
	s.t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
