package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	auditv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/audit/v1"
	credentialsv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/credentials/v1"
	registryv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/registry/v1"
	"github.com/sentryagent/agentidp/libs/mtls"
	"github.com/sentryagent/agentidp/libs/requestinfo"
	"github.com/sentryagent/agentidp/libs/testkit"
)

// internalPorts are the stack's internal gRPC listeners, by service.
func internalPorts() map[string]int {
	p := mesh.Ports()
	return map[string]int{mtls.Registry: p.RegistryGRPC, mtls.Credentials: p.CredentialsGRPC,
		mtls.Audit: p.AuditGRPC, mtls.Authz: p.AuthzGRPC}
}

// TestMeshRefusesOutsiders: a process without a mesh client certificate
// calls nothing inside the mesh, not even a health check: plaintext, TLS
// without a certificate and a certificate of another CA (naming the
// gateway) all fail the connection, on every internal listener, the token
// service's included.
func TestMeshRefusesOutsiders(t *testing.T) {
	skipShort(t)
	otherCA, err := mtls.NewCA(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	foreignFiles, _, err := otherCA.WriteFiles(t.TempDir(), mtls.Gateway, time.Hour, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	foreignCert, err := tls.LoadX509KeyPair(foreignFiles.Cert, foreignFiles.Key)
	if err != nil {
		t.Fatal(err)
	}
	outsiders := map[string]*tls.Config{
		"no client certificate": {InsecureSkipVerify: true, MinVersion: tls.VersionTLS13}, //nolint:gosec // an outsider
		// It trusts any server, so that the refusal is the server's.
		"another CA's gateway certificate": {InsecureSkipVerify: true, MinVersion: tls.VersionTLS13, //nolint:gosec // an outsider
			Certificates: []tls.Certificate{foreignCert}},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for service, port := range internalPorts() {
		creds := map[string]credentials.TransportCredentials{"plaintext": insecure.NewCredentials()}
		for name, cfg := range outsiders {
			c := cfg.Clone()
			c.NextProtos = []string{"h2"}
			creds[name] = credentials.NewTLS(c)
		}
		for name, c := range creds {
			conn, err := grpc.NewClient(testkit.Addr(port), grpc.WithTransportCredentials(c))
			if err != nil {
				t.Fatal(err)
			}
			_, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
			conn.Close()
			if status.Code(err) != codes.Unavailable {
				t.Errorf("%s, %s: health check answered %v; want the connection refused", service, name, err)
			}
		}
	}
	// The token service's listener (HTTP) likewise.
	for name, cfg := range outsiders {
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
		if resp, err := c.Get(fmt.Sprintf("https://%s/.well-known/jwks.json", testkit.Addr(mesh.Ports().TokenHTTP))); err == nil {
			resp.Body.Close()
			t.Errorf("token, %s: answered %d", name, resp.StatusCode)
		}
	}
	if resp, err := client.Get(fmt.Sprintf("http://%s/.well-known/jwks.json", testkit.Addr(mesh.Ports().TokenHTTP))); err == nil {
		resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Errorf("token, plaintext: answered %d", resp.StatusCode)
		}
	}
}

// TestMeshAllowLists: a certificate of the mesh reaches only what its
// identity is allowed: the token service verifies secrets but cannot
// create a credential or register an agent; authz reads the JWKS but not
// the token endpoint; no service but the gateway asks authz.
func TestMeshAllowLists(t *testing.T) {
	skipShort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p := mesh.Ports()
	dial := func(service string, port int, caller string) *grpc.ClientConn {
		conn, err := mesh.DialService(service, port, caller)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	tokCreds := dial(mtls.Credentials, p.CredentialsGRPC, mtls.Token)
	_, err := credentialsv1.NewCredentialsServiceClient(tokCreds).CreateCredential(ctx, &credentialsv1.CreateCredentialRequest{AgentId: admin.ClientID})
	if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "spiffe://agentidp.local/token") {
		t.Errorf("token → credentials CreateCredential: %v, want PERMISSION_DENIED naming the token service", err)
	}
	// VerifyClientSecret is the token service's: a wrong secret is an
	// answer (UNAUTHENTICATED), not a refusal of the caller.
	_, err = credentialsv1.NewClientAuthServiceClient(tokCreds).VerifyClientSecret(ctx, &credentialsv1.VerifyClientSecretRequest{
		ClientId: admin.ClientID, ClientSecret: "agentidp_sk_wrong"})
	if c := status.Code(err); c == codes.PermissionDenied || c == codes.Unavailable {
		t.Errorf("token → credentials VerifyClientSecret: %v, want an answer", err)
	}
	_, err = registryv1.NewRegistryServiceClient(dial(mtls.Registry, p.RegistryGRPC, mtls.Token)).CreateAgent(ctx,
		&registryv1.CreateAgentRequest{Agent: &registryv1.Agent{Name: "from-token", Owner: "x"}})
	if status.Code(err) != codes.PermissionDenied {
		t.Errorf("token → registry CreateAgent: %v, want PERMISSION_DENIED", err)
	}
	_, err = auditv1.NewAuditServiceClient(dial(mtls.Audit, p.AuditGRPC, mtls.Credentials)).ListAuditEvents(ctx, &auditv1.ListAuditEventsRequest{})
	if status.Code(err) != codes.PermissionDenied {
		t.Errorf("credentials → audit ListAuditEvents: %v, want PERMISSION_DENIED", err)
	}
	_, err = auditv1.NewAuditIngestServiceClient(dial(mtls.Audit, p.AuditGRPC, mtls.Token)).Record(ctx, &auditv1.RecordRequest{})
	if status.Code(err) != codes.PermissionDenied {
		t.Errorf("token → audit Record: %v, want PERMISSION_DENIED", err)
	}
	// Health is open to every mesh certificate.
	if _, err := healthpb.NewHealthClient(dial(mtls.Authz, p.AuthzGRPC, mtls.Token)).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Errorf("token → authz health: %v", err)
	}

	// The token service's HTTP listener: authz gets the JWKS only.
	authzID, err := mesh.MeshIdentity(mtls.Authz)
	if err != nil {
		t.Fatal(err)
	}
	hc := authzID.HTTPClient(mtls.Token, 5*time.Second)
	base := "https://" + testkit.Addr(p.TokenHTTP)
	for path, want := range map[string]int{"/.well-known/jwks.json": 200, "/oauth2/token": 403, "/.well-known/oauth-authorization-server": 403} {
		resp, err := hc.Get(base + path)
		if err != nil {
			t.Fatalf("authz → token %s: %v", path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("authz → token GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
}

// TestMeshActorCannotBeForged: identity metadata names the audit actor
// only when the gateway sends it. The operators' identity may register an
// agent directly, but its x-agent-id is ignored: the registry records the
// system, not the agent it named.
func TestMeshActorCannotBeForged(t *testing.T) {
	skipShort(t)
	conn, err := mesh.DialService(mtls.Registry, mesh.Ports().RegistryGRPC, mtls.Bootstrap)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	forged := metadata.Pairs(requestinfo.HeaderAgentID, admin.ClientID, requestinfo.HeaderAgentOwner, "platform",
		requestinfo.HeaderAgentScopes, "platform:admin", requestinfo.HeaderGateway, "true")
	ctx, cancel := context.WithTimeout(metadata.NewOutgoingContext(context.Background(), forged), 10*time.Second)
	defer cancel()
	a, err := registryv1.NewRegistryServiceClient(conn).CreateAgent(ctx, &registryv1.CreateAgentRequest{
		Agent: &registryv1.Agent{Name: "forged-mesh-actor", Owner: "team-mesh", Scopes: []string{"agents:read"}}})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		r := call(t, "GET", "/v1/audit/events?agentId="+a.GetAgentId(), nil)
		events, _ := r.JSON(t)["events"].([]any)
		for _, e := range events {
			ev := e.(map[string]any)
			if ev["action"] == "agent.registered" {
				if ev["actor"] != requestinfo.System {
					t.Fatalf("the registry recorded actor %v from a direct caller's metadata, want %q", ev["actor"], requestinfo.System)
				}
				return nil
			}
		}
		return fmt.Errorf("no agent.registered event yet")
	})
}

// TestMeshCertificatesRotate: the stack re-issues every certificate; the
// services serve the new ones on the next connection and Envoy presents
// its new one, without a restart, and requests keep working throughout.
func TestMeshCertificatesRotate(t *testing.T) {
	skipShort(t)
	served := func(port int) string {
		id, err := mesh.MeshIdentity(mtls.Bootstrap)
		if err != nil {
			t.Fatal(err)
		}
		var serial string
		cfg := id.ClientTLS("")
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			serial = cs.PeerCertificates[0].SerialNumber.String()
			return nil
		}
		c, err := tls.Dial("tcp", testkit.Addr(port), cfg)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		return serial
	}
	gatewaySerial := func() string {
		body, err := os.ReadFile(mesh.MeshFiles(mtls.Gateway).Cert)
		if err != nil {
			t.Fatal(err)
		}
		return pemSerialHex(t, body)
	}
	envoyPresents := func() []string {
		resp, err := client.Get("http://" + testkit.Addr(mesh.Ports().EnvoyAdmin) + "/certs")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var doc struct {
			Certificates []struct {
				CertChain []struct {
					SerialNumber string `json:"serial_number"`
				} `json:"cert_chain"`
			} `json:"certificates"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, c := range doc.Certificates {
			for _, cc := range c.CertChain {
				out = append(out, strings.ToLower(cc.SerialNumber))
			}
		}
		return out
	}
	hasSerial := func(serials []string, want string) bool {
		for _, s := range serials {
			if strings.TrimLeft(s, "0") == strings.TrimLeft(want, "0") {
				return true
			}
		}
		return false
	}

	port := mesh.Ports().CredentialsGRPC
	before := served(port)
	oldGateway := gatewaySerial()
	eventually(t, 10*time.Second, func() error {
		if !hasSerial(envoyPresents(), oldGateway) {
			return fmt.Errorf("Envoy does not list the gateway certificate %s yet", oldGateway)
		}
		return nil
	})
	if err := mesh.RotateCertificates(); err != nil {
		t.Fatal(err)
	}
	newGateway := gatewaySerial()
	if newGateway == oldGateway {
		t.Fatal("the gateway's certificate file did not change")
	}
	eventually(t, 10*time.Second, func() error {
		if after := served(port); after == before {
			return fmt.Errorf("credentials still serves certificate %s", before)
		}
		return nil
	})
	eventually(t, 15*time.Second, func() error {
		if !hasSerial(envoyPresents(), newGateway) {
			return fmt.Errorf("Envoy does not present the rotated gateway certificate %s yet: %v", newGateway, envoyPresents())
		}
		return nil
	})
	// Through the gateway, with the new certificates on both sides.
	expect(t, call(t, "GET", "/v1/agents?pageSize=1", nil), http.StatusOK)
	if _, err := fetchToken(admin.ClientID, admin.ClientSecret, ""); err != nil {
		t.Fatalf("a token after rotation: %v", err)
	}
}

func pemSerialHex(t *testing.T, certPEM []byte) string {
	t.Helper()
	block, _ := pem.Decode(certPEM)
	if block == nil {
		t.Fatal("no PEM certificate")
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", c.SerialNumber)
}
