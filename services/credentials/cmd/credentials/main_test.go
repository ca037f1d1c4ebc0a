package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	credentialsv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/credentials/v1"
	registryv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/registry/v1"
	"github.com/sentryagent/agentidp/libs/testkit"
	"github.com/sentryagent/agentidp/services/credentials/internal/vault"
)

func TestMain(m *testing.M) { testkit.Main(m) }

const (
	credentialsPkg = "github.com/sentryagent/agentidp/services/credentials/cmd/credentials"
	registryPkg    = "github.com/sentryagent/agentidp/services/registry/cmd/registry"
)

// The real binary: starts against real PostgreSQL, Vault and registry,
// becomes ready, serves both gRPC services, and stops on SIGTERM.
func TestBinaryServes(t *testing.T) {
	testkit.SkipIfShort(t)
	registryAddr := testkit.Addr(testkit.MustFreePort(t))
	testkit.StartServer(t, testkit.GoBinary(t, registryPkg), registryAddr,
		"DATABASE_URL="+testkit.NewDatabase(t), "GRPC_ADDR="+registryAddr,
		"HTTP_ADDR="+testkit.Addr(testkit.MustFreePort(t)))
	v := testkit.NewVault(t)
	// A periodic token with the service's policy: production mode refuses
	// the root token.
	token, err := v.PolicyToken(context.Background(), "agentidp-credentials", vault.Policy, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	grpcAddr, httpAddr := testkit.Addr(testkit.MustFreePort(t)), testkit.Addr(testkit.MustFreePort(t))
	testkit.StartServer(t, testkit.GoBinary(t, credentialsPkg), grpcAddr,
		"DATABASE_URL="+testkit.NewDatabase(t), "GRPC_ADDR="+grpcAddr, "HTTP_ADDR="+httpAddr,
		"REGISTRY_ADDR="+registryAddr, "VAULT_ADDR="+v.Addr(), "VAULT_TOKEN="+token)

	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + httpAddr + "/readyz")
		if err == nil {
			var rep struct {
				Status string            `json:"status"`
				Checks map[string]string `json:"checks"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&rep)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				for _, c := range []string{"postgres", "vault", "registry"} {
					if rep.Checks[c] != "ok" {
						t.Fatalf("readyz checks %v", rep.Checks)
					}
				}
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	ctx := context.Background()
	dial := func(addr string) *grpc.ClientConn {
		c, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	agent, err := registryv1.NewRegistryServiceClient(dial(registryAddr)).CreateAgent(ctx,
		&registryv1.CreateAgentRequest{Agent: &registryv1.Agent{Name: "smoke", Owner: "ops", Scopes: []string{"agents:read"}}})
	if err != nil {
		t.Fatal(err)
	}
	conn := dial(grpcAddr)
	ic, err := credentialsv1.NewCredentialsServiceClient(conn).CreateCredential(ctx,
		&credentialsv1.CreateCredentialRequest{AgentId: agent.GetAgentId()})
	if err != nil {
		t.Fatal(err)
	}
	v2, err := credentialsv1.NewClientAuthServiceClient(conn).VerifyClientSecret(ctx,
		&credentialsv1.VerifyClientSecretRequest{ClientId: agent.GetAgentId(), ClientSecret: ic.GetClientSecret()})
	if err != nil || v2.GetCredentialId() != ic.GetCredential().GetCredentialId() {
		t.Fatalf("verify: %v %v", v2, err)
	}
	resp, err := http.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{`agentidp_credentials_issued_total{storage="vault"} 1`,
		`agentidp_credential_verifications_total{outcome="valid"} 1`, "agentidp_vault_request_duration_seconds"} {
		if !strings.Contains(string(body), m) {
			t.Errorf("metrics lack %s", m)
		}
	}
}

// Vault configured but unusable: the process refuses to start, saying why.
func TestBinaryFailsClearlyWithoutVault(t *testing.T) {
	testkit.SkipIfShort(t)
	bin := testkit.GoBinary(t, credentialsPkg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = append(os.Environ(), testkit.PlaintextEnv, "DATABASE_URL="+testkit.NewDatabase(t),
		"GRPC_ADDR="+testkit.Addr(testkit.MustFreePort(t)), "HTTP_ADDR="+testkit.Addr(testkit.MustFreePort(t)),
		"VAULT_ADDR=http://"+testkit.Addr(testkit.MustFreePort(t)), "VAULT_TOKEN=s.unused")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatal("started without a reachable Vault")
	}
	if !strings.Contains(string(out), "cannot reach VAULT_ADDR") || strings.Contains(string(out), "s.unused") {
		t.Fatalf("unclear or leaky start-up error:\n%s", out)
	}
}

// Production mode refuses Vault's root token at start-up, with an error
// that says what to do instead.
func TestBinaryRefusesRootToken(t *testing.T) {
	testkit.SkipIfShort(t)
	v := testkit.NewVault(t)
	bin := testkit.GoBinary(t, credentialsPkg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = append(os.Environ(), "DATABASE_URL="+testkit.NewDatabase(t),
		"GRPC_ADDR="+testkit.Addr(testkit.MustFreePort(t)), "HTTP_ADDR="+testkit.Addr(testkit.MustFreePort(t)),
		"VAULT_ADDR="+v.Addr(), "VAULT_TOKEN="+v.RootToken, "AGENTIDP_INSECURE_PLAINTEXT=true")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatal("started with a root token")
	}
	for _, want := range []string{"root token", "periodic token", "VAULT_ALLOW_ROOT_TOKEN"} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("output does not mention %q:\n%s", want, out)
		}
	}
}
