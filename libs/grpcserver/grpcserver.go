// Package grpcserver builds AgentIdP's gRPC servers: panic recovery, one log
// line per RPC, metrics, the single place where errors become gRPC status
// codes, and the grpc.health.v1 service.
package grpcserver

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	"github.com/sentryagent/agentidp/libs/apierror"
	"github.com/sentryagent/agentidp/libs/metrics"
	"github.com/sentryagent/agentidp/libs/mtls"
	"github.com/sentryagent/agentidp/libs/requestinfo"
)

// Config configures a server. Logger and Metrics are required.
type Config struct {
	Logger  *slog.Logger
	Metrics *metrics.GRPC
	// MaxRecvMsgSize caps request size; default 1 MiB.
	MaxRecvMsgSize int
	// Unavailable, if set, recognises errors that mean a dependency could
	// not be reached (postgres.Unavailable for a service with a database).
	// They become UNAVAILABLE SERVICE_UNAVAILABLE, which clients may retry
	// (503 through the gateway), instead of an opaque INTERNAL (500).
	Unavailable func(error) bool
	Options     []grpc.ServerOption

	// TLS is the process's mesh identity: the server then requires a
	// client certificate of the mesh on every connection and lets each
	// caller call only the methods Allow lists for it. nil serves
	// plaintext to anyone, which only config.Mesh's
	// AGENTIDP_INSECURE_PLAINTEXT allows (development).
	TLS *mtls.Source
	// Allow lists, by caller (mesh identity, libs/mtls), the methods it may
	// call: full names ("/agentidp.registry.v1.RegistryService/GetAgent")
	// or a whole service ("/agentidp.registry.v1.RegistryService/*").
	// grpc.health.v1 (and reflection, when on) are open to every mesh
	// caller. Any other call is PERMISSION_DENIED.
	Allow mtls.Allow
	// Reflection registers the gRPC reflection service (GRPC_REFLECTION).
	Reflection bool
}

// Asserters are the callers whose identity metadata (x-agent-id,
// x-agent-owner, x-agent-scopes, x-agentidp-gateway, x-request-id,
// x-forwarded-for) is believed: the gateway's Envoy, which sets them from
// what authz asserted after removing the client's copies. Any other
// caller's call is an internal one by the system, whatever it sends.
var Asserters = []string{mtls.Gateway}

// openToMesh are the services every mesh caller may call.
func openToMesh(fullMethod string, reflectionOn bool) bool {
	return strings.HasPrefix(fullMethod, "/grpc.health.v1.Health/") ||
		(reflectionOn && strings.HasPrefix(fullMethod, "/grpc.reflection."))
}

// admit names the caller of a call from its verified mesh certificate ("" on
// a plaintext server) and refuses it unless cfg.Allow gives it the method.
func admit(cfg Config, ctx context.Context, method string) (string, error) {
	if cfg.TLS == nil {
		return "", nil
	}
	caller, ok := mtls.PeerName(ctx)
	if !ok {
		// Unreachable: the TLS handshake already required one.
		return "", status.Error(codes.Unauthenticated, "no mesh client certificate")
	}
	if openToMesh(method, cfg.Reflection) || cfg.Allow.Permits(caller, method) {
		return caller, nil
	}
	return "", status.Errorf(codes.PermissionDenied, "%s may not call %s", mtls.ID(caller), method)
}

// Authorize returns the allow-list interceptors of cfg (TLS, Allow,
// Reflection, Logger), for a server that New does not build (authz's
// ext_authz server, which logs no line per call).
func Authorize(cfg Config) (grpc.UnaryServerInterceptor, grpc.StreamServerInterceptor) {
	unary := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if _, err := admit(cfg, ctx, info.FullMethod); err != nil {
			cfg.Logger.Warn("rpc refused", "method", info.FullMethod, "error", err.Error())
			return nil, err
		}
		return handler(ctx, req)
	}
	return unary, authorizeStream(cfg)
}

func authorizeStream(cfg Config) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if _, err := admit(cfg, ss.Context(), info.FullMethod); err != nil {
			cfg.Logger.Warn("rpc refused", "method", info.FullMethod, "error", err.Error())
			return err
		}
		return handler(srv, ss)
	}
}

// identify admits a unary call (as Authorize does) and puts its request
// info into its context: from the metadata when the caller is one of the
// Asserters (or the server is plaintext: development trusts the network),
// else from the connection alone — an internal call by the system from the
// peer's address, whatever metadata it carries, so no other caller can name
// an actor, owner or scopes. The caller is named once per call.
func identify(cfg Config) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		caller, err := admit(cfg, ctx, info.FullMethod)
		if err != nil {
			cfg.Logger.Warn("rpc refused", "method", info.FullMethod, "error", err.Error())
			return nil, err
		}
		if cfg.TLS == nil || slices.Contains(Asserters, caller) {
			return handler(requestinfo.With(ctx, requestinfo.FromIncoming(ctx)), req)
		}
		return handler(requestinfo.With(ctx, requestinfo.FromPeer(ctx)), req)
	}
}

// New returns a server with AgentIdP's interceptors (the mesh allow-list
// first) and the health service (and reflection, when asked for)
// registered. The health server starts NOT_SERVING;
// libs/health flips it once the service's dependencies answer.
func New(cfg Config) (*grpc.Server, *health.Server) {
	if cfg.MaxRecvMsgSize == 0 {
		cfg.MaxRecvMsgSize = 1 << 20
	}
	c := classifier(cfg.Unavailable)
	var creds []grpc.ServerOption
	if cfg.TLS != nil {
		creds = append(creds, grpc.Creds(cfg.TLS.ServerCredentials()))
	}
	opts := append(creds,
		// Long-lived workers serve calls instead of a new goroutine per
		// call, whose stack grew (and was copied) on every call through the
		// interceptors, pgx and protobuf: a visible share of the registry's
		// CPU profile on the gateway's GetAgent hot path (docs/authz.md,
		// "Performance"). Calls beyond the workers still get a goroutine of
		// their own.
		grpc.NumStreamWorkers(uint32(16*runtime.GOMAXPROCS(0))),
		// Fixed flow-control windows turn off grpc-go's BDP estimation,
		// whose PING (and the peer's PING ACK, and the window updates that
		// follow) rode along with a steady stream of small calls: frames
		// and system calls on both sides for nothing, on loopback.
		grpc.StaticStreamWindowSize(4<<20),
		grpc.StaticConnWindowSize(16<<20),
		grpc.MaxRecvMsgSize(cfg.MaxRecvMsgSize),
		grpc.ChainUnaryInterceptor(
			cfg.Metrics.UnaryServer(),
			identify(cfg),
			c.mapErrors,
			logUnary(cfg.Logger, c),
			recoverUnary(cfg.Logger),
		),
		grpc.ChainStreamInterceptor(cfg.Metrics.StreamServer(), authorizeStream(cfg), c.mapStreamErrors, recoverStream(cfg.Logger)),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
	)
	opts = append(opts, cfg.Options...)
	srv := grpc.NewServer(opts...)
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	if cfg.Reflection {
		reflection.Register(srv)
	}
	return srv, hs
}

// errDependencyUnavailable is what a client sees when a dependency of the
// service (its database) cannot be reached.
var errDependencyUnavailable = apierror.New(apierror.Unavailable, "SERVICE_UNAVAILABLE",
	"a dependency of the service is unavailable; retry later")

// classifier turns a handler's error into what the client sees.
type classifier func(error) bool

// classify marks an error that is neither an API error nor a status
// (a downstream service's, or the caller's deadline) as unavailability when
// the service's Unavailable says so, keeping the cause wrapped for the log.
// It reports whether it did.
func (unavailable classifier) classify(err error) (error, bool) {
	if unavailable == nil || err == nil || apierror.As(err) != nil {
		return err, false
	}
	if _, ok := status.FromError(err); ok {
		return err, false
	}
	if unavailable(err) {
		return fmt.Errorf("%w: %w", errDependencyUnavailable, err), true
	}
	return err, false
}

// mapErrors is the one place where a handler's error becomes a gRPC status.
func (unavailable classifier) mapErrors(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	resp, err := handler(ctx, req)
	if err != nil {
		err, _ = unavailable.classify(err)
		return nil, apierror.WithRequestID(apierror.ToStatus(err), requestID(ctx)).Err()
	}
	return resp, nil
}

func (unavailable classifier) mapStreamErrors(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if err := handler(srv, ss); err != nil {
		err, _ = unavailable.classify(err)
		return apierror.WithRequestID(apierror.ToStatus(err), requestID(ss.Context())).Err()
	}
	return nil
}

// requestID is the gateway's x-request-id of the call, if any (Envoy
// issues it; a client's copy is removed before routing).
func requestID(ctx context.Context) string {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get(requestinfo.HeaderRequestID); len(v) > 0 && len(v[0]) <= 128 {
		return v[0]
	}
	return ""
}

func logUnary(logger *slog.Logger, unavailable classifier) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		start := time.Now()
		resp, err := handler(ctx, req)
		if strings.HasPrefix(info.FullMethod, "/grpc.health.v1.") {
			return resp, err
		}
		// Inside mapErrors: we see the handler's own error, so internal
		// failures are logged with their cause while clients get an opaque
		// INTERNAL.
		classified, isUnavailable := unavailable.classify(err)
		st := apierror.ToStatus(classified)
		level := slog.LevelInfo
		switch {
		case st.Code() == apierror.Internal.Code():
			level = slog.LevelError
		case isUnavailable:
			level = slog.LevelWarn
		case err == nil && isRead(info.FullMethod):
			// A successful read changes nothing and is the bulk of the
			// traffic (every authenticated GET through the gateway): DEBUG.
			// Writes and every failure stay at INFO; changes are in the
			// audit log besides.
			level = slog.LevelDebug
		}
		if !logger.Enabled(ctx, level) {
			return resp, err
		}
		attrs := []any{"method", info.FullMethod, "code", st.Code().String(),
			"duration_ms", float64(time.Since(start).Microseconds()) / 1000}
		if p, ok := peer.FromContext(ctx); ok {
			attrs = append(attrs, "peer", p.Addr.String())
		}
		if err != nil {
			if isUnavailable {
				attrs = append(attrs, "reason", errDependencyUnavailable.Reason, "error", err.Error())
			} else if e := apierror.As(err); e != nil {
				attrs = append(attrs, "reason", e.Reason, "error", e.Message)
			} else {
				attrs = append(attrs, "error", err.Error())
			}
		}
		logger.Log(ctx, level, "rpc", attrs...)
		return resp, err
	}
}

// isRead reports whether a full method name ("/pkg.Service/GetThing") is a
// read-only standard method of the AIP naming rules: Get, BatchGet, List.
func isRead(fullMethod string) bool {
	name := fullMethod[strings.LastIndexByte(fullMethod, '/')+1:]
	return strings.HasPrefix(name, "Get") || strings.HasPrefix(name, "BatchGet") || strings.HasPrefix(name, "List")
}

func recoverUnary(logger *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if r := recover(); r != nil {
				logger.Error("panic in handler", "method", info.FullMethod, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				err = apierror.New(apierror.Internal, "INTERNAL", "internal error")
			}
		}()
		return handler(ctx, req)
	}
}

func recoverStream(logger *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
		defer func() {
			if r := recover(); r != nil {
				logger.Error("panic in handler", "method", info.FullMethod, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				err = apierror.ToStatus(apierror.New(apierror.Internal, "INTERNAL", "internal error")).Err()
			}
		}()
		return handler(srv, ss)
	}
}
