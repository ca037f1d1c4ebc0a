package xds

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
)

// TestNACKIsNotResent plays Envoy on an ADS stream: after it rejects a
// listener, the control plane must wait for a new configuration instead of
// sending the rejected one straight back.
func TestNACKIsNotResent(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cp := New(ctx, Config{NodeID: "n", Builder: newBuilder(t),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: prometheus.NewRegistry()})
	if err := cp.Apply(ctx, resolved(8080, "127.0.0.1:1")); err != nil {
		t.Fatal(err)
	}

	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	cp.Register(srv)
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(context.Context, string) (net.Conn, error) { return lis.Dial() }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	stream, err := discovery.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	responses := make(chan *discovery.DiscoveryResponse, 10)
	go func() {
		for {
			resp, err := stream.Recv()
			if err != nil {
				close(responses)
				return
			}
			responses <- resp
		}
	}()
	recv := func(within time.Duration) *discovery.DiscoveryResponse {
		select {
		case r := <-responses:
			return r
		case <-time.After(within):
			return nil
		}
	}

	node := &core.Node{Id: "n"}
	if err := stream.Send(&discovery.DiscoveryRequest{Node: node, TypeUrl: resource.ListenerType}); err != nil {
		t.Fatal(err)
	}
	first := recv(5 * time.Second)
	if first == nil {
		t.Fatal("no listener sent")
	}
	// Reject it, as Envoy does: the last accepted version (none) and an
	// error.
	if err := stream.Send(&discovery.DiscoveryRequest{TypeUrl: resource.ListenerType, ResponseNonce: first.GetNonce(),
		ErrorDetail: &status.Status{Code: 3, Message: "bad listener"}}); err != nil {
		t.Fatal(err)
	}
	if r := recv(300 * time.Millisecond); r != nil {
		t.Fatalf("rejected listener re-sent (version %s)", r.GetVersionInfo())
	}
	if got := testutil.ToFloat64(cp.nacks); got != 1 {
		t.Errorf("nacks = %v, want 1", got)
	}

	// A new configuration is sent.
	if err := cp.Apply(ctx, resolved(8081, "127.0.0.1:1")); err != nil {
		t.Fatal(err)
	}
	next := recv(5 * time.Second)
	if next == nil || next.GetVersionInfo() == first.GetVersionInfo() {
		t.Fatalf("new listener not sent: %v", next)
	}
}
