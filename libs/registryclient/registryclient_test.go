package registryclient_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/sentryagent/agentidp/libs/apierror"
	registryv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/registry/v1"
	"github.com/sentryagent/agentidp/libs/grpcclient"
	"github.com/sentryagent/agentidp/libs/registryclient"
	"github.com/sentryagent/agentidp/libs/testkit"
)

// registry answers GetAgent with err (as the registry's gRPC edge renders
// an *apierror.Error), or the agent.
type registry struct {
	registryv1.UnimplementedRegistryServiceServer
	err error
}

func (r registry) GetAgent(_ context.Context, req *registryv1.GetAgentRequest) (*registryv1.Agent, error) {
	if r.err != nil {
		return nil, apierror.ToStatus(r.err).Err()
	}
	return &registryv1.Agent{AgentId: req.GetAgentId(), Status: "active"}, nil
}

func serve(t *testing.T, r registry) registryclient.Client {
	t.Helper()
	lis := bufconn.Listen(1 << 16)
	srv := grpc.NewServer()
	registryv1.RegisterRegistryServiceServer(srv, r)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///registry", grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return registryclient.New(registryv1.NewRegistryServiceClient(conn))
}

func TestGetAgent(t *testing.T) {
	tests := []struct {
		name string
		err  error // the registry's answer
		want error
	}{
		{"found", nil, nil},
		{"not found", apierror.New(apierror.NotFound, "AGENT_NOT_FOUND", "agent a-1 not found"), registryclient.ErrNotFound},
		{"not an agent id", apierror.Invalid("FIELD_INVALID", "agentId", "agentId is not a UUID"), registryclient.ErrNotFound},
		{"unavailable", apierror.New(apierror.Unavailable, "SERVICE_UNAVAILABLE", "the database is unavailable"), registryclient.ErrUnavailable},
		{"too slow", context.DeadlineExceeded, registryclient.ErrUnavailable},
		{"anything else", errors.New("boom"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := serve(t, registry{err: tt.err}).GetAgent(context.Background(), "a-1")
			switch {
			case tt.err == nil:
				if err != nil || a.GetAgentId() != "a-1" {
					t.Fatalf("%v %v", a, err)
				}
			case tt.want == nil:
				if err == nil || errors.Is(err, registryclient.ErrNotFound) || errors.Is(err, registryclient.ErrUnavailable) {
					t.Fatalf("error %v", err)
				}
			case !errors.Is(err, tt.want):
				t.Fatalf("error %v, want %v", err, tt.want)
			}
		})
	}
}

// TestRegistryDown: a registry that is not there, and the breaker that
// opens over it, are ErrUnavailable; a caller that gave up gets its own
// context's error.
func TestRegistryDown(t *testing.T) {
	conn, err := grpcclient.Dial(testkit.Addr(testkit.MustFreePort(t)), grpcclient.Config{Name: "registry", Timeout: time.Second, FailureThreshold: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := registryclient.New(registryv1.NewRegistryServiceClient(conn))
	for i := 0; i < 3; i++ {
		if _, err := c.GetAgent(context.Background(), "a-1"); !errors.Is(err, registryclient.ErrUnavailable) {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.GetAgent(ctx, "a-1"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}
