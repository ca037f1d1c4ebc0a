package grpcserver_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/sentryagent/agentidp/libs/apierror"
	"github.com/sentryagent/agentidp/libs/grpcserver"
	"github.com/sentryagent/agentidp/libs/metrics"
)

// probe is a health server whose Check does what the test says.
type probe struct {
	healthpb.UnimplementedHealthServer
	do func() error
}

func (p probe) Check(context.Context, *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	if err := p.do(); err != nil {
		return nil, err
	}
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// dial serves a server built by grpcserver.New, with the probe registered
// under a second name, and returns a client of the probe.
func dial(t *testing.T, do func() error) (healthpb.HealthClient, *syncBuffer) {
	t.Helper()
	return dialWith(t, nil, do)
}

// dialWith serves do with grpcserver.Config.Unavailable set to unavailable.
func dialWith(t *testing.T, unavailable func(error) bool, do func() error) (healthpb.HealthClient, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	srv, _ := grpcserver.New(grpcserver.Config{
		Logger:      slog.New(slog.NewTextHandler(logs, nil)),
		Metrics:     metrics.NewGRPC(prometheus.NewRegistry()),
		Unavailable: unavailable,
	})
	// A one-method service whose handler reports its own full method name
	// (generated health handlers hard-code grpc.health.v1's).
	desc := grpc.ServiceDesc{
		ServiceName: "test.Probe",
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{{MethodName: "Check", Handler: func(srv any, ctx context.Context, dec func(any) error, icpt grpc.UnaryServerInterceptor) (any, error) {
			in := new(healthpb.HealthCheckRequest)
			if err := dec(in); err != nil {
				return nil, err
			}
			info := &grpc.UnaryServerInfo{Server: srv, FullMethod: "/test.Probe/Check"}
			return icpt(ctx, in, info, func(ctx context.Context, req any) (any, error) {
				return srv.(probe).Check(ctx, req.(*healthpb.HealthCheckRequest))
			})
		}}},
	}
	srv.RegisterService(&desc, probe{do: do})
	lis := bufconn.Listen(1 << 16)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &probeClient{conn}, logs
}

type probeClient struct{ cc *grpc.ClientConn }

func (c *probeClient) Check(ctx context.Context, in *healthpb.HealthCheckRequest, opts ...grpc.CallOption) (*healthpb.HealthCheckResponse, error) {
	out := new(healthpb.HealthCheckResponse)
	return out, c.cc.Invoke(ctx, "/test.Probe/Check", in, out, opts...)
}

func (c *probeClient) List(context.Context, *healthpb.HealthListRequest, ...grpc.CallOption) (*healthpb.HealthListResponse, error) {
	return nil, errors.New("unused")
}

func (c *probeClient) Watch(context.Context, *healthpb.HealthCheckRequest, ...grpc.CallOption) (grpc.ServerStreamingClient[healthpb.HealthCheckResponse], error) {
	return nil, errors.New("unused")
}

func TestErrorsAreMappedAtTheEdge(t *testing.T) {
	tests := []struct {
		name    string
		do      func() error
		code    codes.Code
		reason  string
		msg     string
		logHas  string
		logHide string
	}{
		{"domain error", func() error { return apierror.New(apierror.NotFound, "THING_NOT_FOUND", "no thing") },
			codes.NotFound, "THING_NOT_FOUND", "no thing", "reason=THING_NOT_FOUND", ""},
		{"internal error is opaque to clients, logged with its cause", func() error { return errors.New("disk on fire") },
			codes.Internal, "INTERNAL", "internal error", "disk on fire", ""},
		{"panic", func() error { panic("boom") },
			codes.Internal, "INTERNAL", "internal error", "panic in handler", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, logs := dial(t, tt.do)
			_, err := client.Check(context.Background(), &healthpb.HealthCheckRequest{})
			st := status.Convert(err)
			if st.Code() != tt.code || st.Message() != tt.msg {
				t.Fatalf("got %v %q", st.Code(), st.Message())
			}
			var reason string
			for _, d := range st.Details() {
				if info, ok := d.(*errdetails.ErrorInfo); ok {
					reason = info.GetReason()
				}
			}
			if reason != tt.reason {
				t.Fatalf("reason %q, want %q", reason, tt.reason)
			}
			if !strings.Contains(logs.String(), tt.logHas) {
				t.Fatalf("log lacks %q:\n%s", tt.logHas, logs)
			}
		})
	}
}

// TestUnavailableDependency: an error the service's Unavailable recognises
// (its database is down) is UNAVAILABLE SERVICE_UNAVAILABLE, logged with
// its cause as a warning; API errors and other errors keep their mapping.
func TestUnavailableDependency(t *testing.T) {
	errDown := errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")
	unavailable := func(err error) bool { return errors.Is(err, errDown) }
	tests := []struct {
		name   string
		err    error
		code   codes.Code
		reason string
		logHas string
	}{
		{"database down", fmt.Errorf("get agent: %w", errDown), codes.Unavailable, "SERVICE_UNAVAILABLE", "level=WARN"},
		{"api error kept", apierror.New(apierror.NotFound, "THING_NOT_FOUND", "no thing"), codes.NotFound, "THING_NOT_FOUND", "level=INFO"},
		{"other error still internal", errors.New("disk on fire"), codes.Internal, "INTERNAL", "level=ERROR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, logs := dialWith(t, unavailable, func() error { return tt.err })
			_, err := client.Check(context.Background(), &healthpb.HealthCheckRequest{})
			st := status.Convert(err)
			var reason string
			for _, d := range st.Details() {
				if info, ok := d.(*errdetails.ErrorInfo); ok {
					reason = info.GetReason()
				}
			}
			if st.Code() != tt.code || reason != tt.reason {
				t.Fatalf("got %v %q (%s), want %v %q", st.Code(), reason, st.Message(), tt.code, tt.reason)
			}
			if strings.Contains(st.Message(), "127.0.0.1") {
				t.Fatalf("the cause leaked to the client: %s", st.Message())
			}
			if !strings.Contains(logs.String(), tt.logHas) {
				t.Fatalf("log lacks %q:\n%s", tt.logHas, logs)
			}
		})
	}
}

func TestHealthStartsNotServing(t *testing.T) {
	srv, hs := grpcserver.New(grpcserver.Config{
		Logger: slog.New(slog.DiscardHandler), Metrics: metrics.NewGRPC(prometheus.NewRegistry()),
	})
	defer srv.Stop()
	resp, err := hs.Check(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("%v %v", resp, err)
	}
}
