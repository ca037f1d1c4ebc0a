package policy

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sentryagent/agentidp/libs/metrics"
)

// Reload is the outcome of one attempt to load a new policy version.
type Reload struct {
	Revision string // of the version tried ("" if it could not be read)
	Previous string // the revision that was serving before
	Tests    int
	Err      error // nil: now serving Revision
	Trigger  string
}

// Config configures an Engine.
type Config struct {
	Dir   string
	Query string
	// Poll is how often the directory is checked for changes; default 1s.
	Poll   time.Duration
	Logger *slog.Logger
	// OnReload, if set, hears of every reload attempt after the first load
	// (the audit log's policy.reloaded).
	OnReload   func(Reload)
	Registerer prometheus.Registerer
}

// Engine serves the current policy and replaces it when the directory
// changes or on demand (SIGHUP). Evaluations in flight keep the version
// they started with; a version that fails to load, compile or pass its
// tests is refused and the previous one keeps serving.
type Engine struct {
	cfg     Config
	current atomic.Pointer[Policy]
	mu      sync.Mutex // serialises reloads
	// lastTried is the fingerprint of the last version tried, good or bad,
	// so that a broken edit is reported once, not every poll.
	lastTried string
	reloads   *prometheus.CounterVec
	tests     prometheus.Gauge
	loadedAt  prometheus.Gauge
}

// New loads the directory once; it fails if the first version is not
// usable (the service must not start without a policy).
func New(ctx context.Context, cfg Config) (*Engine, error) {
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	e := &Engine{cfg: cfg,
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Name: "authz_policy_reloads_total",
			Help: "Policy versions tried after start-up: applied, or rejected (did not load, compile or pass its tests; the previous one keeps serving).",
		}, []string{"result"}),
		tests: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: metrics.Namespace, Name: "authz_policy_tests",
			Help: "Rego tests the serving policy passed before it was accepted.",
		}),
		loadedAt: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: metrics.Namespace, Name: "authz_policy_loaded_timestamp_seconds",
			Help: "When the serving policy was loaded.",
		}),
	}
	for _, r := range []string{"applied", "rejected"} {
		e.reloads.WithLabelValues(r)
	}
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(e.reloads, e.tests, e.loadedAt)
	}
	fp, _ := Fingerprint(cfg.Dir)
	p, err := e.build(ctx)
	if err != nil {
		return nil, err
	}
	e.lastTried = fp
	e.install(p)
	cfg.Logger.Info("policy loaded", "dir", cfg.Dir, "revision", p.Revision, "tests_passed", p.Tests)
	return e, nil
}

// Current is the serving policy.
func (e *Engine) Current() *Policy { return e.current.Load() }

// Eval evaluates the serving policy (see Policy.Eval); cached reports
// whether the decision was remembered.
func (e *Engine) Eval(ctx context.Context, input ast.Value, remember bool) (d Decision, cached bool, err error) {
	return e.current.Load().Eval(ctx, input, remember)
}

func (e *Engine) build(ctx context.Context) (*Policy, error) {
	b, err := Load(e.cfg.Dir)
	if err != nil {
		return nil, err
	}
	return Compile(ctx, b, e.cfg.Query)
}

func (e *Engine) install(p *Policy) {
	e.current.Store(p)
	e.tests.Set(float64(p.Tests))
	e.loadedAt.SetToCurrentTime()
}

// ErrUnchanged: Reload found the directory as it was last tried.
var ErrUnchanged = errors.New("policy: unchanged")

// Reload loads the directory if it changed since the last attempt (or
// always, if force) and installs it if it is good.
func (e *Engine) Reload(ctx context.Context, trigger string, force bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	fp, err := Fingerprint(e.cfg.Dir)
	if err == nil && fp == e.lastTried && !force {
		return ErrUnchanged
	}
	e.lastTried = fp
	prev := e.current.Load()
	r := Reload{Previous: prev.Revision, Trigger: trigger}
	var p *Policy
	if err == nil {
		p, err = e.build(ctx)
	}
	if p != nil {
		r.Revision, r.Tests = p.Revision, p.Tests
	} else {
		r.Revision = fp
	}
	r.Err = err
	switch {
	case err != nil:
		e.reloads.WithLabelValues("rejected").Inc()
		e.cfg.Logger.Error("policy rejected; the previous version keeps serving",
			"dir", e.cfg.Dir, "serving", prev.Revision, "trigger", trigger, "error", err)
	case p.Revision == prev.Revision:
		// Touched but identical: nothing to report.
		return nil
	default:
		e.install(p)
		e.reloads.WithLabelValues("applied").Inc()
		e.cfg.Logger.Info("policy reloaded", "dir", e.cfg.Dir, "revision", p.Revision,
			"previous", prev.Revision, "tests_passed", p.Tests, "trigger", trigger)
	}
	if e.cfg.OnReload != nil {
		e.cfg.OnReload(r)
	}
	return err
}

// Watch polls the directory and listens to hup (SIGHUP) until ctx ends.
func (e *Engine) Watch(ctx context.Context, hup <-chan os.Signal) error {
	t := time.NewTicker(e.cfg.Poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			_ = e.Reload(ctx, "file change", false)
		case <-hup:
			_ = e.Reload(ctx, "SIGHUP", true)
		}
	}
}
