package app_test

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/sentryagent/agentidp/libs/config"
	registryv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/registry/v1"
	"github.com/sentryagent/agentidp/libs/postgres"
	"github.com/sentryagent/agentidp/libs/testkit"
	"github.com/sentryagent/agentidp/services/registry/internal/app"
)

// With MIGRATE_DATABASE_URL the owner migrates and the registry works as a
// login of its own: it serves (writes, reads, the change feed), yet from
// its connection no SET ROLE leads to a schema change; a DATABASE_URL that
// could become the owner is refused at start.
func TestRunAsAConfinedLogin(t *testing.T) {
	testkit.SkipIfShort(t)
	ctx := context.Background()
	owner := testkit.NewDatabase(t)
	login := testkit.LoginRoleURL(t, owner, "agentidp_registry_test")
	load := func(dbURL string) app.Config {
		cfg, err := config.LoadFrom[app.Config](map[string]string{"AGENTIDP_INSECURE_PLAINTEXT": "true", "DATABASE_URL": dbURL, "MIGRATE_DATABASE_URL": owner,
			"GRPC_ADDR": "127.0.0.1:0", "HTTP_ADDR": "127.0.0.1:0", "SHUTDOWN_TIMEOUT": "2s"})
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	if _, err := app.New(ctx, load(owner), app.Deps{}); !errors.Is(err, postgres.ErrNotConfined) {
		t.Fatalf("the owner as DATABASE_URL: %v", err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	a, err := app.New(runCtx, load(login), app.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	grpcAddr, httpAddr := a.Addrs()
	done := make(chan error, 1)
	go func() { done <- a.Run(runCtx) }()
	waitReady(t, "http://"+httpAddr.String()+"/readyz")
	conn, err := grpc.NewClient(grpcAddr.String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := registryv1.NewRegistryServiceClient(conn)
	created, err := client.CreateAgent(ctx, &registryv1.CreateAgentRequest{
		Agent: &registryv1.Agent{Name: "confined", Owner: "ops", Scopes: []string{"agents:read"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.GetAgent(ctx, &registryv1.GetAgentRequest{AgentId: created.GetAgentId()}); err != nil {
		t.Fatal(err)
	}
	testkit.AssertRefused(t, login,
		`SET ROLE NONE; ALTER TABLE agents ADD COLUMN x int`,
		`RESET ROLE; DROP TABLE agents`,
		`SET ROLE postgres`,
		`TRUNCATE goose_db_version`,
	)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
