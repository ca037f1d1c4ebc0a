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

// TestReconnectsWithinASecond: however long a dependency was down, calls
// reach it again within about a second of its return (gRPC's default
// backoff would wait up to 120 s between attempts; after six seconds down
// it waits about three).
func TestReconnectsWithinASecond(t *testing.T) {
	addr := testkit.Addr(testkit.MustFreePort(t))
	conn, err := grpcclient.Dial(addr, grpcclient.Config{
		// A breaker that never opens: this test is about the connection.
		Name: "dependency", Timeout: 200 * time.Millisecond, FailureThreshold: 1 << 30,
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
	for down := time.Now(); time.Since(down) < 6*time.Second; time.Sleep(100 * time.Millisecond) {
		if check() == nil {
			t.Fatal("nothing listens, yet the call succeeded")
		}
	}
	srv := serveHealth(t, addr)
	defer srv.Stop()
	back := time.Now()
	for check() != nil {
		if time.Since(back) > 2*time.Second {
			t.Fatal("the dependency is back, but calls still fail after 2s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("reached again %s after its return", time.Since(back).Round(time.Millisecond))
}
