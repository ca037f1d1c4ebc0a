package app_test

import (
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	envoytype "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// okToken is the bearer token fakeAuthz accepts; "Bearer ok:<agent>"
// authenticates as <agent>.
const okToken = "ok"

// fakeAuthz is an ext_authz server with canned decisions. It stands in for
// services/authz (tested with the real Envoy and the real authz service in
// deploy/local/e2e); here Envoy's wiring is under test: which routes ask,
// what Envoy sends (normalised path, method, headers, body), and that the
// answer is applied as given.
type fakeAuthz struct {
	authv3.UnimplementedAuthorizationServer
	calls atomic.Int64
	delay atomic.Int64 // nanoseconds to wait before answering

	mu   sync.Mutex
	last *authv3.AttributeContext_HttpRequest
	addr string
	srv  *grpc.Server
}

func (f *fakeAuthz) Check(_ context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	f.calls.Add(1)
	if d := time.Duration(f.delay.Load()); d > 0 {
		time.Sleep(d)
	}
	h := req.GetAttributes().GetRequest().GetHttp()
	f.mu.Lock()
	f.last = h
	f.mu.Unlock()
	auth := h.GetHeaders()["authorization"]
	agent, ok := strings.CutPrefix(auth, "Bearer "+okToken)
	if !ok {
		return &authv3.CheckResponse{
			Status: &rpcstatus.Status{Code: int32(codes.Unauthenticated)},
			HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
				Status: &envoytype.HttpStatus{Code: envoytype.StatusCode_Unauthorized},
				Headers: []*core.HeaderValueOption{
					set("content-type", "application/json"),
					set("www-authenticate", `Bearer realm="agentidp"`),
				},
				Body: `{"code":16,"message":"this request needs an access token","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"UNAUTHENTICATED","domain":"agentidp.dev"}]}`,
			}},
		}, nil
	}
	agent = strings.TrimPrefix(agent, ":")
	if agent == "" {
		agent = "agent-from-authz"
	}
	return &authv3.CheckResponse{
		Status: &rpcstatus.Status{Code: int32(codes.OK)},
		HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{
			Headers: []*core.HeaderValueOption{set("x-agent-id", agent), set("x-agent-scopes", "agents:read")},
		}},
	}, nil
}

func set(k, v string) *core.HeaderValueOption {
	return &core.HeaderValueOption{
		Header:       &core.HeaderValue{Key: k, Value: v},
		AppendAction: core.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
	}
}

// lastRequest is the last request Envoy asked about.
func (f *fakeAuthz) lastRequest() *authv3.AttributeContext_HttpRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}

func startFakeAuthz(t testing.TB, opts ...grpc.ServerOption) *fakeAuthz {
	t.Helper()
	f := &fakeAuthz{}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.srv = grpc.NewServer(opts...)
	authv3.RegisterAuthorizationServer(f.srv, f)
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(f.srv, hs)
	f.addr = lis.Addr().String()
	go func() { _ = f.srv.Serve(lis) }()
	t.Cleanup(f.stop)
	return f
}

func (f *fakeAuthz) stop() {
	f.mu.Lock()
	srv := f.srv
	f.srv = nil
	f.mu.Unlock()
	if srv != nil {
		srv.Stop()
	}
}

func (f *fakeAuthz) Addr() string { return f.addr }
