package app_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/sentryagent/agentidp/libs/config"
	registryv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/registry/v1"
	"github.com/sentryagent/agentidp/libs/metrics"
	"github.com/sentryagent/agentidp/libs/testkit"
	"github.com/sentryagent/agentidp/services/registry/internal/app"
)

func TestMain(m *testing.M) { testkit.Main(m) }

func TestConfig(t *testing.T) {
	base := func() map[string]string {
		return map[string]string{"AGENTIDP_INSECURE_PLAINTEXT": "true", "DATABASE_URL": "postgres://x"}
	}
	cfg, err := config.LoadFrom[app.Config](base())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.GRPCAddr != "127.0.0.1:9101" || cfg.HTTPAddr != "127.0.0.1:9201" || cfg.DBMaxConns != 0 || cfg.ShutdownTimeout != 10*time.Second {
		t.Fatalf("defaults: %+v", cfg)
	}
	for name, tt := range map[string]struct {
		set  map[string]string
		want string
	}{
		"no database":        {map[string]string{"DATABASE_URL": ""}, "DATABASE_URL"},
		"bad grpc address":   {map[string]string{"GRPC_ADDR": "registry"}, "GRPC_ADDR"},
		"bad http address":   {map[string]string{"HTTP_ADDR": "9201"}, "HTTP_ADDR"},
		"negative pool":      {map[string]string{"DB_MAX_CONNS": "-1"}, "DB_MAX_CONNS"},
		"not a pool size":    {map[string]string{"DB_MAX_CONNS": "many"}, "DB_MAX_CONNS"},
		"unknown log level":  {map[string]string{"LOG_LEVEL": "loud"}, "LOG_LEVEL"},
		"no shutdown period": {map[string]string{"SHUTDOWN_TIMEOUT": "0s"}, "SHUTDOWN_TIMEOUT"},
	} {
		t.Run(name, func(t *testing.T) {
			env := base()
			for k, v := range tt.set {
				if v == "" {
					delete(env, k)
				} else {
					env[k] = v
				}
			}
			if _, err := config.LoadFrom[app.Config](env); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one naming %s", err, tt.want)
			}
		})
	}
}

// TestRun: New migrates and binds, Run serves the API and becomes ready,
// and once its context ends Run returns nil with both listeners closed.
func TestRun(t *testing.T) {
	testkit.SkipIfShort(t)
	cfg, err := config.LoadFrom[app.Config](map[string]string{"AGENTIDP_INSECURE_PLAINTEXT": "true", "DATABASE_URL": testkit.NewDatabase(t),
		"GRPC_ADDR": "127.0.0.1:0", "HTTP_ADDR": "127.0.0.1:0", "SHUTDOWN_TIMEOUT": "2s"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := app.New(ctx, cfg, app.Deps{Metrics: metrics.NewRegistry()})
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
	if _, err := registryv1.NewRegistryServiceClient(conn).CreateAgent(ctx, &registryv1.CreateAgentRequest{
		Agent: &registryv1.Agent{Name: "shape", Owner: "ops", Scopes: []string{"agents:read"}}}); err != nil {
		t.Fatal(err)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	for _, addr := range []net.Addr{grpcAddr, httpAddr} {
		if c, err := net.DialTimeout("tcp", addr.String(), time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after Run", addr)
		}
	}
}

// TestNewFailsClosed: a New that fails half-way (HTTP_ADDR taken) names the
// variable and leaves nothing open: the gRPC address is free again.
func TestNewFailsClosed(t *testing.T) {
	testkit.SkipIfShort(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	grpcAddr := testkit.Addr(testkit.MustFreePort(t))
	cfg, err := config.LoadFrom[app.Config](map[string]string{"AGENTIDP_INSECURE_PLAINTEXT": "true", "DATABASE_URL": testkit.NewDatabase(t),
		"GRPC_ADDR": grpcAddr, "HTTP_ADDR": taken.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.New(context.Background(), cfg, app.Deps{}); err == nil || !strings.HasPrefix(err.Error(), "HTTP_ADDR") {
		t.Fatalf("New with HTTP_ADDR taken: %v", err)
	}
	lis, err := net.Listen("tcp", grpcAddr)
	if err != nil {
		t.Fatalf("GRPC_ADDR still bound after New failed: %v", err)
	}
	lis.Close()
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
