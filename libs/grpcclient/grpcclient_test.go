package grpcclient_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/sentryagent/agentidp/libs/grpcclient"
	"github.com/sentryagent/agentidp/libs/testkit"
)

func serveHealth(t *testing.T, addr string) *grpc.Server {
	t.Helper()
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go func() { _ = srv.Serve(lis) }()
	return srv
}

// TestBreakerFailsFastAndRecovers runs against a real gRPC server on
// loopback that goes away and comes back.
func TestBreakerFailsFastAndRecovers(t *testing.T) {
	addr := testkit.Addr(testkit.MustFreePort(t))
	srv := serveHealth(t, addr)
	conn, err := grpcclient.Dial(addr, grpcclient.Config{
		Name: "dependency", Timeout: 500 * time.Millisecond, FailureThreshold: 3, OpenFor: 300 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)
	check := func() error {
		_, err := client.Check(context.Background(), &healthpb.HealthCheckRequest{})
		return err
	}
	if err := check(); err != nil {
		t.Fatalf("healthy dependency: %v", err)
	}

	srv.Stop()
	for i := 0; i < 3; i++ {
		if code := status.Code(check()); code != codes.Unavailable {
			t.Fatalf("dependency down: code %v, want UNAVAILABLE", code)
		}
	}
	start := time.Now()
	err = check()
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "circuit open") {
		t.Fatalf("breaker should be open: %v", err)
	}
	if took := time.Since(start); took > 50*time.Millisecond {
		t.Fatalf("an open breaker took %s to answer", took)
	}

	srv = serveHealth(t, addr)
	defer srv.Stop()
	deadline := time.Now().Add(10 * time.Second)
	for check() != nil {
		if time.Now().After(deadline) {
			t.Fatal("breaker never closed after the dependency came back")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Business errors (NOT_FOUND etc.) prove the dependency healthy and must
// never open the breaker.
func TestBreakerIgnoresBusinessErrors(t *testing.T) {
	addr := testkit.Addr(testkit.MustFreePort(t))
	srv := serveHealth(t, addr)
	defer srv.Stop()
	conn, err := grpcclient.Dial(addr, grpcclient.Config{Name: "dependency", FailureThreshold: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)
	for i := 0; i < 5; i++ {
		_, err := client.Check(context.Background(), &healthpb.HealthCheckRequest{Service: "no-such-service"})
		if status.Code(err) != codes.NotFound {
			t.Fatalf("call %d: %v, want NOT_FOUND", i, err)
		}
	}
}
