package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/sentryagent/agentidp/deploy/local/stack"
	credentialsv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/credentials/v1"
	registryv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/registry/v1"
	"github.com/sentryagent/agentidp/libs/mtls"
	"github.com/sentryagent/agentidp/libs/testkit"
)

// docSnippet returns the fenced code block that follows
// "<!-- snippet:name -->" in docs/authz.md.
func docSnippet(t *testing.T, name string) string {
	t.Helper()
	root, err := stack.FindRepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "docs", "authz.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "<!-- snippet:"+name+" -->")
	if !ok {
		t.Fatalf("docs/authz.md has no snippet %s", name)
	}
	_, rest, _ = strings.Cut(rest, "```")
	_, rest, _ = strings.Cut(rest, "\n") // the fence's language
	code, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatalf("snippet %s is not closed", name)
	}
	return code
}

// TestThirdPartyAppBehindEnvoy runs the documented setup for another team's
// app: the Envoy snippet, policy and route table of docs/authz.md, a real
// Envoy, a second authz process (the stack's binary) with that policy, a
// tiny HTTP app, and real AgentIdP tokens.
func TestThirdPartyAppBehindEnvoy(t *testing.T) {
	skipShort(t)
	// The app: echoes who authz says is calling.
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{
			"path": r.URL.Path, "agent": r.Header.Get("X-Agent-Id"), "caller": r.Header.Get("X-Reports-Caller"),
			"scopes": r.Header.Get("X-Agent-Scopes"),
		})
	}))
	t.Cleanup(app.Close)

	dir := t.TempDir()
	policies := filepath.Join(dir, "policies")
	for name, content := range map[string]string{"reports.rego": docSnippet(t, "policy"), "data/routes.json": docSnippet(t, "data")} {
		path := filepath.Join(policies, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p := mesh.Ports()
	authzAddr := testkit.Addr(testkit.MustFreePort(t))
	authzHTTP := testkit.Addr(testkit.MustFreePort(t))
	testkit.StartServer(t, mesh.Binary("authz"), authzAddr,
		"GRPC_ADDR="+authzAddr, "HTTP_ADDR="+authzHTTP, "REDIS_URL="+mesh.RedisURLFor("authz"),
		"REGISTRY_ADDR="+testkit.Addr(p.RegistryGRPC), "CREDENTIALS_ADDR="+testkit.Addr(p.CredentialsGRPC),
		"JWKS_URL=https://"+testkit.Addr(p.TokenHTTP)+"/.well-known/jwks.json", "ISSUER="+mesh.GatewayURL(),
		"POLICY_DIR="+policies, "POLICY_QUERY=data.reports.authz.decision", "LOG_LEVEL=warn",
		// The authz identity: the registry, credentials and token services
		// take nothing else; the reports Envoy's identity may ask it.
		mesh.MeshEnv(mtls.Authz)[0], mesh.MeshEnv(mtls.Authz)[1], mesh.MeshEnv(mtls.Authz)[2],
		"EXTAUTHZ_CALLERS=reports-gateway")
	eventually(t, 20*time.Second, func() error {
		resp, err := http.Get("http://" + authzHTTP + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("authz for reports not ready: %d", resp.StatusCode)
		}
		return nil
	})

	listen, admin := testkit.MustFreePort(t), testkit.MustFreePort(t)
	_, appPort, _ := strings.Cut(app.Listener.Addr().String(), "127.0.0.1:")
	_, authzPort, _ := strings.Cut(authzAddr, "127.0.0.1:")
	envoyFiles, err := mesh.IssueCertificate("reports-gateway")
	if err != nil {
		t.Fatal(err)
	}
	boot := strings.NewReplacer(
		"/etc/agentidp-mesh", filepath.Dir(envoyFiles.Cert),
		"port_value: 10000", fmt.Sprintf("port_value: %d", listen),
		"port_value: 8000", "port_value: "+appPort,
		"port_value: 9106", "port_value: "+authzPort,
		"port_value: 9902", fmt.Sprintf("port_value: %d", admin),
	).Replace(docSnippet(t, "envoy"))
	envoy, err := testkit.StartEnvoy(context.Background(), testkit.EnvoyConfig{
		BootstrapYAML: boot, Dir: filepath.Join(dir, "envoy"), AdminPort: admin,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(envoy.Stop)

	// An agent holding the app's scope, registered by an operator (an agent
	// can grant only scopes it holds, and the bootstrap admin holds
	// AgentIdP's), with a token from AgentIdP.
	reader := operatorAgent(t, []string{"reports:read"})
	other := newAgentClient(t, "agents:read")
	base := fmt.Sprintf("http://127.0.0.1:%d", listen)
	get := func(method, path, tok string, header ...string) (int, map[string]string, string) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(""))
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var m map[string]string
		_ = json.Unmarshal(b, &m)
		return resp.StatusCode, m, string(b)
	}
	eventually(t, 10*time.Second, func() error {
		if s, _, body := get("GET", "/healthz", ""); s != 200 {
			return fmt.Errorf("healthz through the app's Envoy: %d %s", s, body)
		}
		return nil
	})

	if s, m, body := get("GET", "/reports/r-1", reader.token, "X-Agent-Id", "forged"); s != 200 || m["agent"] != reader.id ||
		m["caller"] != reader.id || m["scopes"] != "reports:read" {
		t.Fatalf("reader: %d %s", s, body)
	}
	if s, _, body := get("GET", "/reports/r-1", ""); s != 401 || !strings.Contains(body, "UNAUTHENTICATED") {
		t.Fatalf("anonymous: %d %s", s, body)
	}
	if s, _, body := get("GET", "/reports/r-1", other.token); s != 403 || !strings.Contains(body, "INSUFFICIENT_SCOPE") {
		t.Fatalf("without reports:read: %d %s", s, body)
	}
	if s, _, body := get("POST", "/reports", reader.token); s != 403 {
		t.Fatalf("write without reports:write: %d %s", s, body)
	}
	if s, _, _ := get("GET", "/nope", reader.token); s != 404 {
		t.Fatalf("unknown route: %d", s)
	}
	// The kill switch holds for the app too.
	expect(t, call(t, "PATCH", "/v1/agents/"+reader.id+"?updateMask=status", map[string]any{"status": "suspended"}), http.StatusOK)
	eventually(t, time.Second, func() error {
		if s, _, _ := get("GET", "/reports/r-1", reader.token); s != 401 {
			return fmt.Errorf("suspended agent: %d", s)
		}
		return nil
	})
}

// operatorAgent registers an agent with scopes through the services'
// gRPC APIs (as an operator, like the bootstrap admin), with a credential
// and a token.
func operatorAgent(t *testing.T, scopes []string) agentClient {
	t.Helper()
	p := mesh.Ports()
	dial := func(port int) *grpc.ClientConn {
		service := mtls.Registry
		if port == p.CredentialsGRPC {
			service = mtls.Credentials
		}
		conn, err := mesh.DialService(service, port, mtls.Bootstrap)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	ctx := context.Background()
	a, err := registryv1.NewRegistryServiceClient(dial(p.RegistryGRPC)).CreateAgent(ctx, &registryv1.CreateAgentRequest{
		Agent: &registryv1.Agent{Name: "reports-reader", Owner: "team-reports", Scopes: scopes}})
	if err != nil {
		t.Fatal(err)
	}
	var issued *credentialsv1.IssuedCredential
	eventually(t, 5*time.Second, func() error {
		issued, err = credentialsv1.NewCredentialsServiceClient(dial(p.CredentialsGRPC)).CreateCredential(ctx,
			&credentialsv1.CreateCredentialRequest{AgentId: a.GetAgentId()})
		return err
	})
	c := agentClient{id: a.GetAgentId(), secret: issued.GetClientSecret(), credentialID: issued.GetCredential().GetCredentialId()}
	if c.token, err = fetchToken(c.id, c.secret, ""); err != nil {
		t.Fatal(err)
	}
	return c
}
