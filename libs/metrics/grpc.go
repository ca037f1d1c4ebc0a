package metrics

import (
	"context"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// GRPC instruments gRPC servers and clients.
type GRPC struct {
	serverHandled  *prometheus.CounterVec
	serverDuration *prometheus.HistogramVec
	clientHandled  *prometheus.CounterVec
	clientDuration *prometheus.HistogramVec
}

// NewGRPC registers the gRPC metrics on reg.
func NewGRPC(reg prometheus.Registerer) *GRPC {
	labels := []string{"grpc_service", "grpc_method", "grpc_code"}
	return &GRPC{
		serverHandled: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "grpc_server_handled_total",
			Help: "RPCs completed by this server, by service, method and status code.",
		}, labels)),
		serverDuration: register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "grpc_server_handling_seconds",
			Help: "Latency of RPCs handled by this server.", Buckets: LatencyBuckets,
		}, labels[:2])),
		clientHandled: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "grpc_client_handled_total",
			Help: "RPCs this process made, by service, method and status code.",
		}, labels)),
		clientDuration: register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "grpc_client_handling_seconds",
			Help: "Latency of RPCs this process made.", Buckets: LatencyBuckets,
		}, labels[:2])),
	}
}

// UnaryServer records each unary RPC the server handles.
func (m *GRPC) UnaryServer() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		start := time.Now()
		resp, err := handler(ctx, req)
		svc, method := SplitMethod(info.FullMethod)
		m.serverHandled.WithLabelValues(svc, method, status.Code(err).String()).Inc()
		m.serverDuration.WithLabelValues(svc, method).Observe(time.Since(start).Seconds())
		return resp, err
	}
}

// StreamServer records each streaming RPC the server handles.
func (m *GRPC) StreamServer() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		start := time.Now()
		err := handler(srv, ss)
		svc, method := SplitMethod(info.FullMethod)
		m.serverHandled.WithLabelValues(svc, method, status.Code(err).String()).Inc()
		m.serverDuration.WithLabelValues(svc, method).Observe(time.Since(start).Seconds())
		return err
	}
}

// UnaryClient records each unary RPC made through a connection.
func (m *GRPC) UnaryClient() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, fullMethod string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		start := time.Now()
		err := invoker(ctx, fullMethod, req, reply, cc, opts...)
		svc, method := SplitMethod(fullMethod)
		m.clientHandled.WithLabelValues(svc, method, status.Code(err).String()).Inc()
		m.clientDuration.WithLabelValues(svc, method).Observe(time.Since(start).Seconds())
		return err
	}
}

// SplitMethod splits "/pkg.Service/Method" into its service and method.
func SplitMethod(full string) (service, method string) {
	full = strings.TrimPrefix(full, "/")
	if i := strings.LastIndexByte(full, '/'); i >= 0 {
		return full[:i], full[i+1:]
	}
	return "unknown", full
}
