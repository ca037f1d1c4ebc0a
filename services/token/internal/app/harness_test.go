package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/sentryagent/agentidp/libs/config"
	credentialsv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/credentials/v1"
	registryv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/registry/v1"
	"github.com/sentryagent/agentidp/libs/grpcclient"
	"github.com/sentryagent/agentidp/libs/metrics"
	"github.com/sentryagent/agentidp/libs/testkit"
	"github.com/sentryagent/agentidp/services/token/internal/app"
	"github.com/sentryagent/agentidp/services/token/internal/keys/vaultstore"
)

func TestMain(m *testing.M) { testkit.Main(m) }

const (
	registryPkg    = "github.com/sentryagent/agentidp/services/registry/cmd/registry"
	credentialsPkg = "github.com/sentryagent/agentidp/services/credentials/cmd/credentials"
)

// platform is the real registry and credentials services (processes built
// from this workspace) with their own PostgreSQL databases, Vault and
// Redis, for token services to run against.
type platform struct {
	t            testing.TB
	redisURL     string
	vault        *testkit.Vault
	vaultToken   string // periodic, with vaultstore.Policy
	registryAddr string
	credsAddr    string
	credsEnv     []string
	creds        *testkit.Server
	registry     registryv1.RegistryServiceClient
	credentials  credentialsv1.CredentialsServiceClient
}

func startPlatform(t testing.TB) *platform {
	t.Helper()
	testkit.SkipIfShort(t)
	p := &platform{t: t, redisURL: testkit.NewRedisURL(t), vault: testkit.NewVault(t)}
	// The token service gets a periodic token with its own policy, as in
	// production (which refuses the root token).
	if tok, err := p.vault.PolicyToken(context.Background(), "agentidp-token", vaultstore.Policy, time.Hour); err != nil {
		t.Fatal(err)
	} else {
		p.vaultToken = tok
	}
	regBin := testkit.GoBinary(t, registryPkg)
	credBin := testkit.GoBinary(t, credentialsPkg)

	p.registryAddr = testkit.Addr(testkit.MustFreePort(t))
	testkit.StartServer(t, regBin, p.registryAddr,
		"GRPC_ADDR="+p.registryAddr, "HTTP_ADDR="+testkit.Addr(testkit.MustFreePort(t)),
		"DATABASE_URL="+testkit.NewDatabase(t), "LOG_LEVEL=warn")

	p.credsAddr = testkit.Addr(testkit.MustFreePort(t))
	p.credsEnv = []string{"GRPC_ADDR=" + p.credsAddr, "HTTP_ADDR=" + testkit.Addr(testkit.MustFreePort(t)),
		"DATABASE_URL=" + testkit.NewDatabase(t), "REGISTRY_ADDR=" + p.registryAddr,
		"VAULT_ADDR=" + p.vault.Addr(), "VAULT_TOKEN=" + p.vault.RootToken, "VAULT_ALLOW_ROOT_TOKEN=true", "LOG_LEVEL=warn"}
	p.creds = testkit.StartServer(t, credBin, p.credsAddr, p.credsEnv...)

	regConn, err := grpcclient.Dial(p.registryAddr, grpcclient.Config{Name: "registry", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { regConn.Close() })
	p.registry = registryv1.NewRegistryServiceClient(regConn)
	credConn, err := grpcclient.Dial(p.credsAddr, grpcclient.Config{Name: "credentials", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { credConn.Close() })
	p.credentials = credentialsv1.NewCredentialsServiceClient(credConn)
	return p
}

// restartCredentials starts the credentials service again after Kill.
func (p *platform) restartCredentials() {
	p.t.Helper()
	p.creds = testkit.StartServer(p.t, testkit.GoBinary(p.t, credentialsPkg), p.credsAddr, p.credsEnv...)
}

// agent registers an active agent with scopes.
func (p *platform) agent(scopes ...string) string {
	p.t.Helper()
	a, err := p.registry.CreateAgent(context.Background(), &registryv1.CreateAgentRequest{Agent: &registryv1.Agent{
		Name: "bot", Owner: "team-test", AgentType: "assistant", Scopes: scopes,
	}})
	if err != nil {
		p.t.Fatalf("create agent: %v", err)
	}
	return a.GetAgentId()
}

// client is an agent's credential.
type client struct{ id, secret, credentialID string }

func (p *platform) credential(agentID string, ttl time.Duration) client {
	p.t.Helper()
	var ic *credentialsv1.IssuedCredential
	var err error
	// The credentials service learns of a new agent from the registry's
	// feed (or asks the registry); retry briefly.
	for i := 0; i < 50; i++ {
		ic, err = p.credentials.CreateCredential(context.Background(), &credentialsv1.CreateCredentialRequest{
			AgentId: agentID, TtlSeconds: int64(ttl / time.Second)})
		if err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		p.t.Fatalf("create credential: %v", err)
	}
	return client{id: ic.GetClientId(), secret: ic.GetClientSecret(), credentialID: ic.GetCredential().GetCredentialId()}
}

func (p *platform) setStatus(agentID, status string) {
	p.t.Helper()
	_, err := p.registry.UpdateAgent(context.Background(), &registryv1.UpdateAgentRequest{
		Agent: &registryv1.Agent{AgentId: agentID, Status: status}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"status"}}})
	if err != nil {
		p.t.Fatalf("set status %s: %v", status, err)
	}
}

func (p *platform) revokeCredential(c client) {
	p.t.Helper()
	if _, err := p.credentials.RevokeCredential(context.Background(), &credentialsv1.RevokeCredentialRequest{
		AgentId: c.id, CredentialId: c.credentialID}); err != nil {
		p.t.Fatalf("revoke credential: %v", err)
	}
}

// tokenServer is one token service replica running in this process.
type tokenServer struct {
	t       testing.TB
	base    string // http://127.0.0.1:port
	admin   string
	metrics *prometheus.Registry
	logs    *syncBuffer
	stop    func()
	http    *http.Client
}

// env returns a token service environment against p; extra overrides.
func (p *platform) env(extra ...string) map[string]string {
	env := map[string]string{
		"AGENTIDP_INSECURE_PLAINTEXT": "true",
		"REDIS_URL":                   p.redisURL,
		"CREDENTIALS_ADDR":            p.credsAddr,
		"REGISTRY_ADDR":               p.registryAddr,
		"VAULT_ADDR":                  p.vault.Addr(),
		"VAULT_TOKEN":                 p.vaultToken,
		"HTTP_ADDR":                   "127.0.0.1:0",
		"ADMIN_ADDR":                  "127.0.0.1:0",
		"SHUTDOWN_TIMEOUT":            "2s",
		"LOG_LEVEL":                   "debug",
		// Tests hammer one client and fail on purpose from one address;
		// testRateLimit and TestFailureLimits set their own limits.
		"RATE_LIMIT_PER_SECOND":                "0",
		"AUTH_FAILURE_LIMIT_PER_SECOND":        "0",
		"SOURCE_AUTH_FAILURE_LIMIT_PER_SECOND": "0",
	}
	for _, kv := range extra {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	return env
}

// startToken runs a replica with env. ISSUER defaults to the replica's own
// URL (there is no gateway in these tests).
func startToken(t testing.TB, env map[string]string) *tokenServer {
	t.Helper()
	port := testkit.MustFreePort(t)
	env["HTTP_ADDR"] = testkit.Addr(port)
	if _, ok := env["ISSUER"]; !ok {
		env["ISSUER"] = "http://" + testkit.Addr(port)
	}
	cfg, err := config.LoadFrom[app.Config](env)
	if err != nil {
		t.Fatal(err)
	}
	s := &tokenServer{t: t, metrics: metrics.NewRegistry(), logs: &syncBuffer{},
		http: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	var logger *slog.Logger
	if env["TEST_LOG"] == "discard" { // access log formatted at Info, then dropped
		logger = slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	} else {
		logger = slog.New(slog.NewTextHandler(s.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, app.Deps{Logger: logger, Metrics: s.metrics})
	if err != nil {
		cancel()
		t.Fatalf("token service did not start: %v\n%s", err, s.logs.String())
	}
	public, admin := a.Addrs()
	s.base, s.admin = "http://"+public.String(), "http://"+admin.String()
	errc := make(chan error, 1)
	go func() { errc <- a.Run(ctx) }()
	var once sync.Once
	s.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-errc; err != nil {
				t.Errorf("token service: %v", err)
			}
		})
	}
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("token service log:\n%s", tail(s.logs.String(), 6000))
		}
	})
	return s
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("not JSON (%d): %s", r.status, r.body)
	}
	return m
}

func (r response) String() string { return fmt.Sprintf("%d %s", r.status, bytes.TrimSpace(r.body)) }

// post sends a form; header is name, value pairs.
func (s *tokenServer) post(path string, form url.Values, header ...string) response {
	s.t.Helper()
	return s.do(http.MethodPost, path, form.Encode(), append([]string{"Content-Type", "application/x-www-form-urlencoded"}, header...)...)
}

func (s *tokenServer) do(method, path, body string, header ...string) response {
	s.t.Helper()
	req, err := http.NewRequest(method, s.base+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := s.http.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// token asks for a token with client_secret_post.
func (s *tokenServer) token(c client, scope string) response {
	s.t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.id}, "client_secret": {c.secret}}
	if scope != "" {
		form.Set("scope", scope)
	}
	return s.post("/oauth2/token", form)
}

// mustToken returns an access token or fails.
func (s *tokenServer) mustToken(c client, scope string) string {
	s.t.Helper()
	r := s.token(c, scope)
	if r.status != http.StatusOK {
		s.t.Fatalf("token: %s", r)
	}
	return r.json(s.t)["access_token"].(string)
}

// metric reads one series of this replica's registry.
func (s *tokenServer) metric(name string, labels ...string) float64 {
	s.t.Helper()
	v, ok, err := metrics.Value(s.metrics, name, labels...)
	if err != nil {
		s.t.Fatal(err)
	}
	if !ok {
		return -1
	}
	return v
}

// eventually retries f until it returns nil or timeout passes.
func eventually(t testing.TB, timeout time.Duration, f func() error) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		err := f()
		if err == nil {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("after %s: %v", timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

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

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
