// Package health tracks whether a service's dependencies (PostgreSQL, Redis,
// Vault, other services) answer, and reports it through grpc.health.v1 and
// the HTTP /healthz and /readyz endpoints.
package health

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"time"

	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// Check reports whether one dependency is usable.
type Check func(ctx context.Context) error

// Config configures a Checker. Its checks are fixed at construction.
type Config struct {
	// GRPC, if set, is told SERVING or NOT_SERVING after every round.
	GRPC   *health.Server
	Logger *slog.Logger
	// Checks decide readiness: the service is ready when every one passed
	// on the last round.
	Checks map[string]Check
	// Informational checks are reported by /readyz but do not decide
	// readiness: a dependency only some calls need (taking the service out
	// of its load balancer would fail the others too).
	Informational map[string]Check
	// Recheck, if set, starts a round as soon as it is notified instead of
	// at the next tick: something a check looks at just became usable (a
	// change feed caught up), so the service may be ready now.
	Recheck Recheck
}

// Recheck is the event "check again now". Notify never blocks, and
// notifications that arrive while one is pending are merged into it, so
// whoever learns first that a dependency is back can say so without
// knowing the Checker (which, in turn, may check that very part).
type Recheck chan struct{}

// NewRecheck returns a Recheck for Config.Recheck.
func NewRecheck() Recheck { return make(Recheck, 1) }

// Notify asks for a round soon; a nil Recheck ignores it.
func (r Recheck) Notify() {
	select {
	case r <- struct{}{}:
	default:
	}
}

// Checker runs its checks periodically. The service is ready (SERVING) when
// every check passed on the last round.
type Checker struct {
	grpc     *health.Server
	logger   *slog.Logger
	interval time.Duration
	timeout  time.Duration
	recheck  Recheck
	names    []string
	checks   map[string]Check
	// informational checks are reported but do not decide readiness.
	informational map[string]bool

	mu      sync.RWMutex
	results map[string]string // name -> "ok" or the error text
	ready   bool
}

// NewChecker returns a checker of cfg's checks.
func NewChecker(cfg Config) *Checker {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Checker{
		grpc: cfg.GRPC, logger: cfg.Logger, interval: 2 * time.Second, timeout: time.Second, recheck: cfg.Recheck,
		checks: map[string]Check{}, results: map[string]string{}, informational: map[string]bool{},
	}
	for name, check := range cfg.Checks {
		c.checks[name] = check
	}
	for name, check := range cfg.Informational {
		c.checks[name] = check
		c.informational[name] = true
	}
	for name := range c.checks {
		c.names = append(c.names, name)
	}
	sort.Strings(c.names)
	return c
}

// Run checks now, then every interval and whenever Recheck is notified,
// until ctx ends; it then reports
// NOT_SERVING so that load balancers drain the instance during shutdown.
func (c *Checker) Run(ctx context.Context) error {
	t := time.NewTicker(c.interval)
	defer t.Stop()
	for {
		c.round(ctx)
		select {
		case <-ctx.Done():
			c.set(false)
			if c.grpc != nil {
				c.grpc.Shutdown()
			}
			return nil
		case <-t.C:
		case <-c.recheck:
		}
	}
}

// CheckNow runs one round synchronously (for start-up and tests).
func (c *Checker) CheckNow(ctx context.Context) bool {
	c.round(ctx)
	return c.Ready()
}

func (c *Checker) round(ctx context.Context) {
	results := make(map[string]string, len(c.names))
	ready := true
	for _, name := range c.names {
		cctx, cancel := context.WithTimeout(ctx, c.timeout)
		err := c.checks[name](cctx)
		cancel()
		if err != nil {
			results[name] = err.Error()
			if !c.informational[name] {
				ready = false
			}
		} else {
			results[name] = "ok"
		}
	}
	c.mu.Lock()
	prevReady := c.ready
	prev := c.results
	c.results = results
	c.mu.Unlock()
	for _, name := range c.names {
		if results[name] != "ok" && prev[name] != results[name] {
			c.logger.Warn("dependency check failed", "check", name, "error", results[name])
		}
	}
	if ready != prevReady || len(prev) == 0 {
		c.set(ready)
	}
}

func (c *Checker) set(ready bool) {
	c.mu.Lock()
	c.ready = ready
	c.mu.Unlock()
	if c.grpc == nil {
		return
	}
	st := healthpb.HealthCheckResponse_NOT_SERVING
	if ready {
		st = healthpb.HealthCheckResponse_SERVING
	}
	c.grpc.SetServingStatus("", st)
}

// Ready reports the result of the last round.
func (c *Checker) Ready() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.ready
}

// Report is the JSON body of /readyz.
type Report struct {
	Status string            `json:"status"` // "ready" or "not_ready"
	Checks map[string]string `json:"checks"`
}

// ReadyHandler serves /readyz: 200 when ready, 503 otherwise.
func (c *Checker) ReadyHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		c.mu.RLock()
		rep := Report{Status: "not_ready", Checks: make(map[string]string, len(c.results))}
		for k, v := range c.results {
			rep.Checks[k] = v
		}
		ready := c.ready
		c.mu.RUnlock()
		code := http.StatusServiceUnavailable
		if ready {
			rep.Status, code = "ready", http.StatusOK
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(rep)
	})
}

// LiveHandler serves /healthz: the process is up.
func LiveHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
}
