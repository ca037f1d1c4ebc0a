// Package serve runs a service's listeners as actors that stop when their
// context ends: gRPC and HTTP servers drain within a deadline, then close.
package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"google.golang.org/grpc"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sentryagent/agentidp/libs/health"
	"github.com/sentryagent/agentidp/libs/metrics"
)

// GRPC serves srv on lis until ctx ends, then stops gracefully, forcing the
// stop after drain.
func GRPC(ctx context.Context, srv *grpc.Server, lis net.Listener, drain time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	select {
	case err := <-errc:
		return fmt.Errorf("grpc server on %s: %w", lis.Addr(), err)
	case <-ctx.Done():
	}
	done := make(chan struct{})
	go func() { srv.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(drain):
		srv.Stop()
	}
	return nil
}

// HTTP serves srv on lis until ctx ends, then shuts down within drain.
func HTTP(ctx context.Context, srv *http.Server, lis net.Listener, drain time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("http server on %s: %w", lis.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	return nil
}

// AdminMux returns the operational endpoints every service exposes on its
// admin HTTP listener: /metrics, /healthz and /readyz, and with
// WithProfiling(true) Go's profiler under /debug/pprof/.
func AdminMux(reg *prometheus.Registry, checker *health.Checker, opts ...AdminOption) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics.Handler(reg))
	mux.Handle("GET /healthz", health.LiveHandler())
	mux.Handle("GET /readyz", checker.ReadyHandler())
	for _, o := range opts {
		o(mux)
	}
	return mux
}

// AdminOption adds endpoints to AdminMux.
type AdminOption func(*http.ServeMux)

// WithProfiling serves net/http/pprof under /debug/pprof/ when on (the
// PPROF_ENABLED variable, config.Common.Pprof). It is off by default:
// profiles and goroutine dumps show a process's internals, so they belong
// on the loopback admin listener of a process being investigated, not on
// by default in production.
func WithProfiling(on bool) AdminOption {
	return func(mux *http.ServeMux) {
		if !on {
			return
		}
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
}

// NewHTTPServer returns an http.Server with sane timeouts whose errors go to
// logger.
func NewHTTPServer(h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}
