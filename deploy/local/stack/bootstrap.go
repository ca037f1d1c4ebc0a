package stack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	credentialsv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/credentials/v1"
	registryv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/registry/v1"
	"github.com/sentryagent/agentidp/libs/testkit"
)

// AdminScopes are every scope of the public API and the operators'
// platform:admin.
var AdminScopes = []string{
	"agents:read", "agents:write", "credentials:write", "tokens:introspect", "audit:read", "platform:admin",
}

// Admin is the bootstrap administrator's client credential.
type Admin struct {
	ClientID     string
	ClientSecret string
}

// BootstrapAdmin makes sure an active admin agent with every scope and a
// working credential exists, and returns its credential. It talks to the
// services directly (not through the gateway, whose policy would need an
// admin to exist first). The credential is kept in envFile and reused while
// the agent stays active; otherwise a new admin is created.
func (s *Stack) BootstrapAdmin(ctx context.Context, envFile string) (Admin, error) {
	dial := func(addr string) (*grpc.ClientConn, error) {
		return grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	}
	regConn, err := dial(testkit.Addr(s.cfg.Ports.RegistryGRPC))
	if err != nil {
		return Admin{}, err
	}
	defer regConn.Close()
	credConn, err := dial(testkit.Addr(s.cfg.Ports.CredentialsGRPC))
	if err != nil {
		return Admin{}, err
	}
	defer credConn.Close()
	registry := registryv1.NewRegistryServiceClient(regConn)
	creds := credentialsv1.NewClientAuthServiceClient(credConn)

	if prev, ok := readAdmin(envFile); ok {
		_, err := creds.VerifyClientSecret(ctx, &credentialsv1.VerifyClientSecretRequest{
			ClientId: prev.ClientID, ClientSecret: prev.ClientSecret,
		})
		if err == nil {
			return prev, nil
		}
		if status.Code(err) != codes.Unauthenticated {
			return Admin{}, fmt.Errorf("check the saved admin credential: %w", err)
		}
	}
	agent, err := registry.CreateAgent(ctx, &registryv1.CreateAgentRequest{Agent: &registryv1.Agent{
		Name: "platform-admin", Owner: "platform", AgentType: "admin",
		Description: "Created by make dev: holds every scope. Use it to register the first agents.",
		Scopes:      AdminScopes,
	}})
	if err != nil {
		return Admin{}, fmt.Errorf("register the admin agent: %w", err)
	}
	issued, err := credentialsv1.NewCredentialsServiceClient(credConn).CreateCredential(ctx,
		&credentialsv1.CreateCredentialRequest{AgentId: agent.GetAgentId()})
	if err != nil {
		return Admin{}, fmt.Errorf("create the admin credential: %w", err)
	}
	return Admin{ClientID: issued.GetClientId(), ClientSecret: issued.GetClientSecret()}, nil
}

// readAdmin reads AGENTIDP_CLIENT_ID and AGENTIDP_CLIENT_SECRET from an env file.
func readAdmin(path string) (Admin, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Admin{}, false
	}
	var a Admin
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok {
			continue
		}
		switch k {
		case "AGENTIDP_CLIENT_ID":
			a.ClientID = v
		case "AGENTIDP_CLIENT_SECRET":
			a.ClientSecret = v
		}
	}
	return a, a.ClientID != "" && a.ClientSecret != ""
}

// WriteEnv writes the env file for scripts and SDKs (mode 0600: it holds a
// secret).
func WriteEnv(path, gatewayURL string, admin Admin) error {
	if admin.ClientID == "" {
		return errors.New("no admin credential")
	}
	content := fmt.Sprintf("AGENTIDP_URL=%s\nAGENTIDP_CLIENT_ID=%s\nAGENTIDP_CLIENT_SECRET=%s\n",
		gatewayURL, admin.ClientID, admin.ClientSecret)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
