package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/sentryagent/agentidp/libs/config"
	credentialsv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/credentials/v1"
	registryv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/registry/v1"
	"github.com/sentryagent/agentidp/libs/grpcclient"
	"github.com/sentryagent/agentidp/libs/metrics"
	"github.com/sentryagent/agentidp/libs/testkit"
	"github.com/sentryagent/agentidp/libs/vaultclient"
	"github.com/sentryagent/agentidp/services/authz/internal/app"
)

func TestMain(m *testing.M) { testkit.Main(m) }

const (
	registryPkg    = "github.com/sentryagent/agentidp/services/registry/cmd/registry"
	credentialsPkg = "github.com/sentryagent/agentidp/services/credentials/cmd/credentials"
	tokenPkg       = "github.com/sentryagent/agentidp/services/token/cmd/token"
	issuer         = "http://gateway.test"
)

// platform is the real registry, credentials and token services
// (processes built from this workspace) with PostgreSQL, Redis and Vault,
// for authz servers to run against.
type platform struct {
	t            testing.TB
	redisURL     string
	vault        *testkit.Vault
	registryAddr string
	registryEnv  []string
	registrySrv  *testkit.Server
	credsAddr    string
	tokenURL     string
	registry     registryv1.RegistryServiceClient
	credentials  credentialsv1.CredentialsServiceClient
	rdb          *redis.Client
}

func startPlatform(t testing.TB) *platform {
	t.Helper()
	testkit.SkipIfShort(t)
	p := &platform{t: t, redisURL: testkit.NewRedisURL(t), vault: testkit.NewVault(t)}
	regBin := testkit.GoBinary(t, registryPkg)
	credBin := testkit.GoBinary(t, credentialsPkg)
	tokBin := testkit.GoBinary(t, tokenPkg)

	p.registryAddr = testkit.Addr(testkit.MustFreePort(t))
	p.registryEnv = []string{"GRPC_ADDR=" + p.registryAddr, "HTTP_ADDR=" + testkit.Addr(testkit.MustFreePort(t)),
		"DATABASE_URL=" + testkit.NewDatabase(t), "LOG_LEVEL=warn"}
	p.registrySrv = testkit.StartServer(t, regBin, p.registryAddr, p.registryEnv...)

	p.credsAddr = testkit.Addr(testkit.MustFreePort(t))
	testkit.StartServer(t, credBin, p.credsAddr,
		"GRPC_ADDR="+p.credsAddr, "HTTP_ADDR="+testkit.Addr(testkit.MustFreePort(t)),
		"DATABASE_URL="+testkit.NewDatabase(t), "REGISTRY_ADDR="+p.registryAddr, "LOG_LEVEL=warn")

	// The token service runs with a periodic token of its own policy, as
	// in production (which refuses the root token).
	vaultToken, err := p.vault.PolicyToken(context.Background(), "agentidp-token", vaultclient.TokenPolicy, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tokAddr := testkit.Addr(testkit.MustFreePort(t))
	testkit.StartServer(t, tokBin, tokAddr,
		"HTTP_ADDR="+tokAddr, "ADMIN_ADDR="+testkit.Addr(testkit.MustFreePort(t)),
		"REDIS_URL="+p.redisURL, "REGISTRY_ADDR="+p.registryAddr, "CREDENTIALS_ADDR="+p.credsAddr,
		"VAULT_ADDR="+p.vault.Addr(), "VAULT_TOKEN="+vaultToken, "ISSUER="+issuer,
		"RATE_LIMIT_PER_SECOND=0", "LOG_LEVEL=warn")
	p.tokenURL = "http://" + tokAddr

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
	opts, _ := redis.ParseURL(p.redisURL)
	p.rdb = redis.NewClient(opts)
	t.Cleanup(func() { p.rdb.Close() })
	return p
}

// client is an agent with a credential.
type client struct{ id, secret, credentialID string }

// agent registers an active agent with scopes and gives it a credential.
func (p *platform) agent(scopes ...string) client {
	p.t.Helper()
	a, err := p.registry.CreateAgent(context.Background(), &registryv1.CreateAgentRequest{Agent: &registryv1.Agent{
		Name: "bot", Owner: "team-test", AgentType: "assistant", Scopes: scopes,
	}})
	if err != nil {
		p.t.Fatalf("create agent: %v", err)
	}
	var ic *credentialsv1.IssuedCredential
	for i := 0; i < 50; i++ {
		ic, err = p.credentials.CreateCredential(context.Background(), &credentialsv1.CreateCredentialRequest{AgentId: a.GetAgentId()})
		if err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		p.t.Fatalf("create credential: %v", err)
	}
	return client{id: a.GetAgentId(), secret: ic.GetClientSecret(), credentialID: ic.GetCredential().GetCredentialId()}
}

// token gets an access token from the real token service.
func (p *platform) token(c client, scope string) string {
	p.t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	if scope != "" {
		form.Set("scope", scope)
	}
	var last string
	for i := 0; i < 50; i++ {
		req, _ := http.NewRequest("POST", p.tokenURL+"/oauth2/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(c.id, c.secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			p.t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			var body struct {
				AccessToken string `json:"access_token"`
			}
			_ = json.Unmarshal(b, &body)
			return body.AccessToken
		}
		last = fmt.Sprintf("%d %s", resp.StatusCode, b)
		time.Sleep(100 * time.Millisecond) // the token service learns of new agents from the feed
	}
	p.t.Fatalf("token: %s", last)
	return ""
}

// revokeToken revokes a token through the token service (RFC 7009).
func (p *platform) revokeToken(c client, tok string) {
	p.t.Helper()
	req, _ := http.NewRequest("POST", p.tokenURL+"/oauth2/revoke", strings.NewReader(url.Values{"token": {tok}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(c.id, c.secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		p.t.Fatalf("revoke: %d", resp.StatusCode)
	}
}

func (p *platform) setStatus(id, status string) {
	p.t.Helper()
	_, err := p.registry.UpdateAgent(context.Background(), &registryv1.UpdateAgentRequest{
		Agent: &registryv1.Agent{AgentId: id, Status: status}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"status"}},
	})
	if err != nil {
		p.t.Fatalf("set status %s: %v", status, err)
	}
}

// authz is one authz server running in this process.
type authz struct {
	t         testing.TB
	addr      string
	httpAddr  string
	policyDir string
	reg       *prometheus.Registry
	client    authv3.AuthorizationClient
	hup       chan os.Signal
	stop      func()
	mu        sync.Mutex
	durations []time.Duration
}

// copyPolicies copies the repository's policies/ into a fresh directory.
func copyPolicies(t testing.TB) string {
	t.Helper()
	src := repoPath(t, "policies")
	dst := filepath.Join(t.TempDir(), "policies")
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func repoPath(t testing.TB, rel string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return filepath.Join(dir, rel)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.work not found")
		}
		dir = parent
	}
}

// startAuthz runs an authz server against the platform; env overrides the
// defaults (POLICY_DIR defaults to a copy of the repository's policies).
func (p *platform) startAuthz(t testing.TB, env map[string]string) *authz {
	t.Helper()
	a := p.launchAuthz(t, env)
	a.waitReady()
	return a
}

// launchAuthz starts an authz server without waiting for it to be ready.
func (p *platform) launchAuthz(t testing.TB, env map[string]string) *authz {
	t.Helper()
	a := &authz{t: t, hup: make(chan os.Signal, 1), reg: metrics.NewRegistry()}
	base := map[string]string{
		"GRPC_ADDR": "127.0.0.1:0", "HTTP_ADDR": "127.0.0.1:0", "AGENTIDP_INSECURE_PLAINTEXT": "true",
		"REDIS_URL": p.redisURL, "REGISTRY_ADDR": p.registryAddr, "CREDENTIALS_ADDR": p.credsAddr,
		"JWKS_URL": p.tokenURL + "/.well-known/jwks.json", "ISSUER": issuer,
		"POLICY_POLL_INTERVAL": "100ms", "SHUTDOWN_TIMEOUT": "2s", "LOG_LEVEL": "warn",
		"JWKS_MIN_REFRESH_INTERVAL": "100ms",
	}
	for k, v := range env {
		base[k] = v
	}
	if base["POLICY_DIR"] == "" {
		base["POLICY_DIR"] = copyPolicies(t)
	}
	a.policyDir = base["POLICY_DIR"]
	cfg, err := config.LoadFrom[app.Config](base)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := app.New(ctx, cfg, app.Deps{Logger: logger, Metrics: a.reg, Reload: a.hup,
		ObserveCheck: func(d time.Duration) {
			a.mu.Lock()
			a.durations = append(a.durations, d)
			a.mu.Unlock()
		}})
	if err != nil {
		cancel()
		t.Fatalf("authz: %v", err)
	}
	grpcAddr, httpAddr := srv.Addrs()
	a.addr, a.httpAddr = grpcAddr.String(), httpAddr.String()
	errc := make(chan error, 1)
	go func() { errc <- srv.Run(ctx) }()
	var once sync.Once
	a.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-errc; err != nil {
				t.Errorf("authz: %v", err)
			}
		})
	}
	t.Cleanup(a.stop)
	conn, err := grpc.NewClient(a.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	a.client = authv3.NewAuthorizationClient(conn)
	return a
}

// waitReady waits until the server answers /readyz with 200.
func (a *authz) waitReady() {
	a.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + a.httpAddr + "/readyz")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			if time.Now().After(deadline) {
				a.t.Fatalf("authz not ready: %s", b)
			}
		} else if time.Now().After(deadline) {
			a.t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checked is a decision as Envoy would apply it.
type checked struct {
	status   int
	upstream map[string]string
	headers  map[string]string
	body     string
	removed  []string
}

func (c checked) reason() string {
	var st struct {
		Details []struct {
			Reason string `json:"reason"`
		} `json:"details"`
	}
	_ = json.Unmarshal([]byte(c.body), &st)
	if len(st.Details) == 0 {
		return ""
	}
	return st.Details[0].Reason
}

// call asks authz about a request; header is name, value pairs.
func (a *authz) call(method, path, body string, header ...string) checked {
	a.t.Helper()
	headers := map[string]string{":method": method, ":path": path, "x-request-id": "req-test"}
	for i := 0; i+1 < len(header); i += 2 {
		headers[strings.ToLower(header[i])] = header[i+1]
	}
	req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Id: "req-test", Method: method, Path: path, Host: "gateway.test", Scheme: "http", Protocol: "HTTP/1.1",
			Headers: headers, RawBody: []byte(body),
		}},
		Source: &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
			SocketAddress: &corev3.SocketAddress{Address: "192.0.2.7"}}}},
	}}
	resp, err := a.client.Check(context.Background(), req)
	if err != nil {
		a.t.Fatalf("Check: %v", err)
	}
	out := checked{upstream: map[string]string{}, headers: map[string]string{}}
	switch r := resp.GetHttpResponse().(type) {
	case *authv3.CheckResponse_OkResponse:
		out.status = 200
		for _, h := range r.OkResponse.GetHeaders() {
			out.upstream[h.GetHeader().GetKey()] = h.GetHeader().GetValue()
		}
		out.removed = r.OkResponse.GetHeadersToRemove()
	case *authv3.CheckResponse_DeniedResponse:
		out.status = int(r.DeniedResponse.GetStatus().GetCode())
		for _, h := range r.DeniedResponse.GetHeaders() {
			out.headers[h.GetHeader().GetKey()] = h.GetHeader().GetValue()
		}
		out.body = r.DeniedResponse.GetBody()
	default:
		a.t.Fatalf("no HTTP response: %v", resp)
	}
	return out
}

func bearer(tok string) []string { return []string{"authorization", "Bearer " + tok} }

// metric reads a counter or gauge of this server.
func (a *authz) metric(name string, labels ...string) float64 {
	a.t.Helper()
	v, ok, err := metrics.Value(a.reg, name, labels...)
	if err != nil {
		a.t.Fatal(err)
	}
	if !ok {
		return 0
	}
	return v
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// eventually retries f until it succeeds or timeout passes.
func eventually(t testing.TB, timeout time.Duration, f func() error) {
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

func fieldMask(paths ...string) *fieldmaskpb.FieldMask { return &fieldmaskpb.FieldMask{Paths: paths} }

// startRegistry starts the registry again (after Kill) on its address.
func startRegistry(t testing.TB, p *platform) *testkit.Server {
	t.Helper()
	return testkit.StartServer(t, testkit.GoBinary(t, registryPkg), p.registryAddr, p.registryEnv...)
}
