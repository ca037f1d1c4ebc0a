// Package grpcclient dials other AgentIdP services: every call gets a
// deadline and goes through a circuit breaker (sony/gobreaker), so a
// dependency that is down costs the caller a fast UNAVAILABLE, never a hang.
package grpcclient

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sony/gobreaker/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/sentryagent/agentidp/libs/metrics"
	"github.com/sentryagent/agentidp/libs/mtls"
)

// Config configures a client connection.
type Config struct {
	// Name identifies the dependency in errors and breaker state, e.g. "registry".
	Name string
	// Timeout applies to calls whose context has no earlier deadline; default 3s.
	Timeout time.Duration
	// FailureThreshold is how many consecutive failures open the breaker; default 5.
	FailureThreshold uint32
	// OpenFor is how long the breaker stays open before probing; default 5s.
	OpenFor time.Duration
	// Metrics, if set, records agentidp_grpc_client_* metrics.
	Metrics *metrics.GRPC
	// BreakerState, if set, exports the breaker's state as
	// agentidp_grpc_client_breaker_state{dependency="<Name>"}.
	BreakerState *BreakerState
	// TLS is the caller's mesh identity: the connection presents its
	// certificate and accepts only a server whose certificate names Name
	// (spiffe://agentidp.local/<Name>). nil dials plaintext, which only
	// config.Mesh's AGENTIDP_INSECURE_PLAINTEXT allows (development).
	TLS     *mtls.Source
	Options []grpc.DialOption
}

// reconnectMaxDelay bounds the wait between attempts to reach a dependency
// that is down.
const reconnectMaxDelay = time.Second

// Dial returns a lazily-connecting client for target ("host:port", or
// "dns:///name:port" for several replicas, balanced round-robin).
func Dial(target string, cfg Config) (*grpc.ClientConn, error) {
	if cfg.Name == "" {
		return nil, errors.New("grpcclient: Config.Name is required")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 3 * time.Second
	}
	if cfg.FailureThreshold == 0 {
		cfg.FailureThreshold = 5
	}
	if cfg.OpenFor == 0 {
		cfg.OpenFor = 5 * time.Second
	}
	interceptors := []grpc.UnaryClientInterceptor{}
	if cfg.Metrics != nil {
		interceptors = append(interceptors, cfg.Metrics.UnaryClient())
	}
	interceptors = append(interceptors, Breaker(cfg), Timeout(cfg.Timeout))
	creds := insecure.NewCredentials()
	if cfg.TLS != nil {
		creds = cfg.TLS.ClientCredentials(cfg.Name)
	}
	opts := append([]grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		// gRPC's default reconnect backoff grows to 120 s: after a few
		// seconds of outage a restarted dependency would stay unreached
		// for seconds more, and the breaker's half-open probe would fail
		// on the stale connection state and re-open it for another
		// OpenFor. Retrying at least every second bounds that delay (and
		// costs a refused connection per second while it is down).
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff: backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: reconnectMaxDelay},
		}),
		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig":[{"round_robin":{}}]}`),
		grpc.WithChainUnaryInterceptor(interceptors...),
	}, cfg.Options...)
	conn, err := grpc.NewClient(target, opts...)
	if err != nil {
		return nil, fmt.Errorf("grpcclient %s: %w", cfg.Name, err)
	}
	return conn, nil
}

// Timeout gives calls without a deadline (or with a later one) at most d.
func Timeout(d time.Duration) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		ctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}

// Breaker opens after cfg.FailureThreshold consecutive infrastructure
// failures (UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL, UNKNOWN); answers such
// as NOT_FOUND or INVALID_ARGUMENT prove the dependency healthy. While open,
// calls fail at once with UNAVAILABLE.
func Breaker(cfg Config) grpc.UnaryClientInterceptor {
	cb := gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        cfg.Name,
		MaxRequests: 1,
		Timeout:     cfg.OpenFor,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= cfg.FailureThreshold },
		IsSuccessful: func(err error) bool {
			switch status.Code(err) {
			case codes.Unavailable, codes.DeadlineExceeded, codes.Internal, codes.Unknown:
				return false
			}
			return true
		},
	})
	cfg.BreakerState.add(cfg.Name, cb)
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		_, err := cb.Execute(func() (struct{}, error) {
			return struct{}{}, invoker(ctx, method, req, reply, cc, opts...)
		})
		if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
			return status.Errorf(codes.Unavailable, "%s is unavailable (circuit open)", cfg.Name)
		}
		return err
	}
}
