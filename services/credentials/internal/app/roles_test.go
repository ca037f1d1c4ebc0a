package app_test

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/sentryagent/agentidp/libs/config"
	credentialsv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/credentials/v1"
	"github.com/sentryagent/agentidp/libs/postgres"
	"github.com/sentryagent/agentidp/libs/testkit"
	"github.com/sentryagent/agentidp/services/credentials/internal/app"
)

// With MIGRATE_DATABASE_URL the owner migrates and the service works as a
// login of its own: it serves, yet from its connection no SET ROLE leads to
// a schema change; a DATABASE_URL that could become the owner is refused.
// (deploy/local runs the whole mesh this way: the e2e suites write through it.)
func TestRunAsAConfinedLogin(t *testing.T) {
	testkit.SkipIfShort(t)
	ctx := context.Background()
	owner := testkit.NewDatabase(t)
	login := testkit.LoginRoleURL(t, owner, "agentidp_credentials_test")
	load := func(dbURL string) app.Config {
		cfg, err := config.LoadFrom[app.Config](map[string]string{"AGENTIDP_INSECURE_PLAINTEXT": "true", "DATABASE_URL": dbURL, "MIGRATE_DATABASE_URL": owner,
			"GRPC_ADDR": "127.0.0.1:0", "HTTP_ADDR": "127.0.0.1:0", "SHUTDOWN_TIMEOUT": "2s",
			"REGISTRY_ADDR": testkit.Addr(testkit.MustFreePort(t))})
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
	_, err = credentialsv1.NewClientAuthServiceClient(conn).VerifyClientSecret(ctx,
		&credentialsv1.VerifyClientSecretRequest{ClientId: "0190a9a0-0000-7000-8000-000000000000", ClientSecret: "nope"})
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("VerifyClientSecret as the confined login: %v", err)
	}
	testkit.AssertRefused(t, login,
		`SET ROLE NONE; ALTER TABLE credentials ADD COLUMN x int`,
		`RESET ROLE; DROP TABLE credential_secrets`,
		`SET ROLE postgres`,
		`TRUNCATE goose_db_version`,
	)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
