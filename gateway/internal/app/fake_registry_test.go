package app_test

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sentryagent/agentidp/gateway/internal/xds"
	"github.com/sentryagent/agentidp/libs/apierror"
	registryv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/registry/v1"
)

// fakeRegistry is an in-process RegistryService with canned answers. It
// stands in for services/registry, which is not what these tests are about;
// Envoy, the thing under test, is real.
type fakeRegistry struct {
	registryv1.UnimplementedRegistryServiceServer
	name string // reported in every agent's description, to see who answered
	// opts are the server's options (its mesh TLS credentials).
	opts  []grpc.ServerOption
	calls atomic.Int64
	// md is the metadata (request headers) of the last call.
	md atomic.Pointer[metadata.MD]

	mu   sync.Mutex
	addr string
	srv  *grpc.Server
	done chan struct{}
}

var errAgentNotFound = apierror.New(apierror.NotFound, "AGENT_NOT_FOUND", "agent not found")

func (f *fakeRegistry) CreateAgent(ctx context.Context, req *registryv1.CreateAgentRequest) (*registryv1.Agent, error) {
	f.calls.Add(1)
	// What services/registry does: REST clients get 201 Created.
	if err := grpc.SetHeader(ctx, metadata.Pairs(xds.StatusHeader, "201")); err != nil {
		return nil, err
	}
	a := req.GetAgent()
	a.AgentId = "0190c6e8-0000-7000-8000-000000000001"
	a.Status = "active"
	a.CreatedAt = timestamppb.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	a.Description = f.name
	return a, nil
}

func (f *fakeRegistry) GetAgent(ctx context.Context, req *registryv1.GetAgentRequest) (*registryv1.Agent, error) {
	f.calls.Add(1)
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		f.md.Store(&md)
	}
	if req.GetAgentId() == "slow" {
		time.Sleep(time.Second)
	}
	if req.GetAgentId() == "missing" {
		return nil, apierror.ToStatus(errAgentNotFound.WithMessage("agent %s not found", req.GetAgentId())).Err()
	}
	return &registryv1.Agent{
		AgentId: req.GetAgentId(), Name: "billing-bot", AgentType: "assistant", Status: "active",
		DeploymentEnv: "production", Description: f.name,
	}, nil
}

func (f *fakeRegistry) ListAgents(context.Context, *registryv1.ListAgentsRequest) (*registryv1.ListAgentsResponse, error) {
	f.calls.Add(1)
	return &registryv1.ListAgentsResponse{}, nil
}

// start serves on addr ("127.0.0.1:0" picks a port), SERVING.
func (f *fakeRegistry) start(t testing.TB, addr string) {
	t.Helper()
	var lis net.Listener
	var err error
	// A port just released by stop may linger briefly; retry.
	for i := 0; i < 50; i++ {
		if lis, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("fake registry listen %s: %v", addr, err)
	}
	srv := grpc.NewServer(f.opts...)
	registryv1.RegisterRegistryServiceServer(srv, f)
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	done := make(chan struct{})
	go func() { _ = srv.Serve(lis); close(done) }()
	f.mu.Lock()
	f.addr, f.srv, f.done = lis.Addr().String(), srv, done
	f.mu.Unlock()
}

// stop kills the server the hard way, as a crash would.
func (f *fakeRegistry) stop() {
	f.mu.Lock()
	srv, done := f.srv, f.done
	f.srv = nil
	f.mu.Unlock()
	if srv != nil {
		srv.Stop()
		<-done
	}
}

func (f *fakeRegistry) Addr() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.addr
}
