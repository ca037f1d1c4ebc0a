// Package grpc serves envoy.service.auth.v3.Authorization: it turns Envoy's
// CheckRequest into the request internal/check decides, and the decision
// into a CheckResponse (OK with upstream headers, or a denied HTTP response).
package grpc

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	"github.com/sentryagent/agentidp/libs/grpcserver"
	"github.com/sentryagent/agentidp/libs/metrics"
	"github.com/sentryagent/agentidp/libs/mtls"
	"github.com/sentryagent/agentidp/services/authz/internal/check"
	"github.com/sentryagent/agentidp/services/authz/internal/input"
)

// Decider decides one request (a *check.Service).
type Decider interface {
	Check(ctx context.Context, r *input.Request) *check.Result
}

// Server implements the Authorization service.
type Server struct {
	authv3.UnimplementedAuthorizationServer
	decider Decider
}

// NewServer returns the ext_authz server.
func NewServer(d Decider) *Server { return &Server{decider: d} }

var _ authv3.AuthorizationServer = (*Server)(nil)

// Check decides one request. It never fails: every outcome, including
// "cannot decide now" (503), is an HTTP answer for Envoy to send.
func (s *Server) Check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	return Response(s.decider.Check(ctx, Request(req))), nil
}

// Request converts Envoy's description of an HTTP request.
func Request(req *authv3.CheckRequest) *input.Request {
	attrs := req.GetAttributes()
	h := attrs.GetRequest().GetHttp()
	r := &input.Request{
		ID: h.GetId(), Method: h.GetMethod(), Path: h.GetPath(), Host: h.GetHost(),
		Scheme: h.GetScheme(), Protocol: h.GetProtocol(), Headers: h.GetHeaders(), Size: h.GetSize(),
		ContextExtensions: attrs.GetContextExtensions(),
	}
	if hm := h.GetHeaderMap(); len(r.Headers) == 0 && hm != nil {
		// encode_raw_headers: values may repeat; join them as Envoy does.
		r.Headers = make(map[string]string, len(hm.GetHeaders()))
		for _, hv := range hm.GetHeaders() {
			k := strings.ToLower(hv.GetKey())
			v := hv.GetValue()
			if v == "" {
				v = string(hv.GetRawValue())
			}
			if prev, ok := r.Headers[k]; ok {
				v = prev + "," + v
			}
			r.Headers[k] = v
		}
	}
	if r.Headers == nil {
		r.Headers = map[string]string{}
	}
	if raw := h.GetRawBody(); len(raw) > 0 {
		r.Body = raw
	} else if b := h.GetBody(); b != "" {
		r.Body = []byte(b)
	}
	if sa := attrs.GetSource().GetAddress().GetSocketAddress(); sa != nil {
		r.SourceAddress = sa.GetAddress()
	}
	return r
}

// Response converts a decision.
func Response(res *check.Result) *authv3.CheckResponse {
	if res.Allowed {
		ok := &authv3.OkHttpResponse{HeadersToRemove: res.RemoveHeaders}
		for _, h := range res.UpstreamHeaders {
			ok.Headers = append(ok.Headers, set(h))
		}
		for _, h := range res.ResponseHeaders {
			ok.ResponseHeadersToAdd = append(ok.ResponseHeadersToAdd, set(h))
		}
		return &authv3.CheckResponse{
			Status:       &rpcstatus.Status{Code: int32(codes.OK)},
			HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: ok},
		}
	}
	denied := &authv3.DeniedHttpResponse{
		Status: &typev3.HttpStatus{Code: typev3.StatusCode(res.Status)},
		Body:   res.Body,
	}
	for _, h := range res.ResponseHeaders {
		denied.Headers = append(denied.Headers, set(h))
	}
	code := codes.PermissionDenied
	if res.Status == 401 {
		code = codes.Unauthenticated
	}
	return &authv3.CheckResponse{
		Status:       &rpcstatus.Status{Code: int32(code), Message: res.Reason},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: denied},
	}
}

func set(h check.Header) *core.HeaderValueOption {
	return &core.HeaderValueOption{
		Header:       &core.HeaderValue{Key: h.Name, Value: h.Value},
		AppendAction: core.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
	}
}

// Mesh is the server's mutual TLS: the service's identity, who may call
// Check (libs/mtls.Mesh, plus EXTAUTHZ_CALLERS), and whether reflection is
// on. A zero Mesh serves plaintext to anyone (development).
type Mesh struct {
	TLS        *mtls.Source
	Allow      mtls.Allow
	Reflection bool
}

// NewGRPCServer builds the service's gRPC server: the mesh's allow-list,
// metrics and panic recovery on every call, grpc.health.v1 (starting
// NOT_SERVING) and, when asked for, reflection. Unlike libs/grpcserver it
// logs no line per call: Check is the gateway's hot path (internal/check
// logs denials).
func NewGRPCServer(m *metrics.GRPC, logger *slog.Logger, mesh Mesh) (*grpc.Server, *health.Server) {
	authzUnary, authzStream := grpcserver.Authorize(grpcserver.Config{Logger: logger, TLS: mesh.TLS, Allow: mesh.Allow, Reflection: mesh.Reflection})
	var creds []grpc.ServerOption
	if mesh.TLS != nil {
		creds = append(creds, grpc.Creds(mesh.TLS.ServerCredentials()))
	}
	srv := grpc.NewServer(append(creds,
		// Long-lived workers instead of a goroutine per call: OPA's evaluator
		// recurses deeply, and growing a fresh goroutine's stack for every
		// check (copying it several times) was the largest item of its CPU
		// profile (docs/authz.md, "Performance").
		grpc.NumStreamWorkers(uint32(64*runtime.GOMAXPROCS(0))),
		grpc.MaxRecvMsgSize(4<<20),
		// Fixed flow-control windows: no BDP-estimation PINGs (and their
		// ACKs) between Envoy and authz on every round of checks.
		grpc.StaticStreamWindowSize(4<<20),
		grpc.StaticConnWindowSize(16<<20),
		grpc.ChainUnaryInterceptor(m.UnaryServer(), authzUnary, recoverUnary(logger)),
		grpc.ChainStreamInterceptor(authzStream),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
	)...)
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	if mesh.Reflection {
		reflection.Register(srv)
	}
	return srv, hs
}

func recoverUnary(logger *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if r := recover(); r != nil {
				logger.Error("panic in handler", "method", info.FullMethod, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				err = status.Error(codes.Internal, "internal error")
			}
		}()
		return handler(ctx, req)
	}
}
