package app_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/sentryagent/agentidp/libs/config"
	credentialsv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/credentials/v1"
	"github.com/sentryagent/agentidp/libs/testkit"
	"github.com/sentryagent/agentidp/services/credentials/internal/app"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// TestRun: in embedded mode and with the registry away (it is only
// informational), New migrates and binds, Run becomes ready and serves,
// and once its context ends Run returns nil with both listeners closed.
// cmd/credentials' tests run the binary with Vault and the registry.
func TestRun(t *testing.T) {
	testkit.SkipIfShort(t)
	cfg, err := config.LoadFrom[app.Config](map[string]string{"AGENTIDP_INSECURE_PLAINTEXT": "true", "DATABASE_URL": testkit.NewDatabase(t),
		"GRPC_ADDR": "127.0.0.1:0", "HTTP_ADDR": "127.0.0.1:0", "SHUTDOWN_TIMEOUT": "2s",
		"REGISTRY_ADDR": testkit.Addr(testkit.MustFreePort(t))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := app.New(ctx, cfg, app.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	grpcAddr, httpAddr := a.Addrs()
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()

	waitReady(t, "http://"+httpAddr.String()+"/readyz")
	conn, err := grpc.NewClient(grpcAddr.String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = credentialsv1.NewClientAuthServiceClient(conn).VerifyClientSecret(ctx,
		&credentialsv1.VerifyClientSecretRequest{ClientId: "0190a9a0-0000-7000-8000-000000000000", ClientSecret: "nope"})
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("VerifyClientSecret of an unknown client: %v", err)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	for _, addr := range []net.Addr{grpcAddr, httpAddr} {
		if c, err := net.DialTimeout("tcp", addr.String(), time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after Run", addr)
		}
	}
}

func waitReady(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			err = errors.New(resp.Status)
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
