package grpc_test

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	registryv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/registry/v1"
	"github.com/sentryagent/agentidp/libs/grpcserver"
	"github.com/sentryagent/agentidp/libs/metrics"
	"github.com/sentryagent/agentidp/libs/postgres"
	"github.com/sentryagent/agentidp/libs/testkit"
	"github.com/sentryagent/agentidp/services/registry/internal/agent"
	"github.com/sentryagent/agentidp/services/registry/internal/endpoints"
	pgstore "github.com/sentryagent/agentidp/services/registry/internal/store/postgres"
	grpctransport "github.com/sentryagent/agentidp/services/registry/internal/transport/grpc"
	"github.com/sentryagent/agentidp/services/registry/migrations"
)

// BenchmarkGetAgent: GetAgent through the whole registry (the gRPC server
// of cmd/registry with its interceptors and INFO logging to a file, the
// store, a real PostgreSQL) over loopback TCP, 32 callers — what Envoy's
// transcoder sends for GET /v1/agents/{id}:
//
//	go test -run XXX -bench GetAgent -benchtime 20000x ./internal/transport/grpc/
func BenchmarkGetAgent(b *testing.B) {
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	pool, err := postgres.Open(ctx, postgres.Config{URL: testkit.NewDatabase(b)}, metrics.NewStore(reg))
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	if err := postgres.Migrate(ctx, pool, migrations.FS); err != nil {
		b.Fatal(err)
	}
	logFile, err := os.Create(filepath.Join(b.TempDir(), "registry.log"))
	if err != nil {
		b.Fatal(err)
	}
	defer logFile.Close()
	store := pgstore.New(pool)
	srv, _ := grpcserver.New(grpcserver.Config{
		Logger:  slog.New(slog.NewTextHandler(logFile, nil)),
		Metrics: metrics.NewGRPC(reg),
	})
	registryv1.RegisterRegistryServiceServer(srv, grpctransport.NewServer(endpoints.New(agent.NewService(agent.Config{Store: store}))))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	c := registryv1.NewRegistryServiceClient(conn)
	a, err := c.CreateAgent(ctx, &registryv1.CreateAgentRequest{Agent: validAgent()})
	if err != nil {
		b.Fatal(err)
	}
	req := &registryv1.GetAgentRequest{AgentId: a.GetAgentId()}
	b.SetParallelism(16) // 32 callers on 2 cores
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.GetAgent(ctx, req); err != nil {
				b.Error(err)
				return
			}
		}
	})
	// Server, client and their gRPC stacks; PostgreSQL is another process.
	b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
}

// processCPU is this process's CPU time (user and system) so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
