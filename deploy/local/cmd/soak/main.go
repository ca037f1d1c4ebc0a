// Command soak runs the whole mesh on 127.0.0.1 under steady mixed load
// through the gateway and checks that it stays healthy: no 5xx, and memory,
// goroutines, file descriptors and PostgreSQL connections flat from start to
// end. It measures the peak first (or takes RATE), then runs at half of it
// for SOAK_DURATION, prints a report and writes it into docs/benchmarks.md.
// `make soak` runs it (scripts/soak.sh); make test does not.
//
// Exit status: 0 pass, 1 fail (a 5xx, a transport error or growth beyond
// the tolerances), 2 the soak could not run.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sentryagent/agentidp/deploy/local/docsection"
	"github.com/sentryagent/agentidp/deploy/local/machine"
	"github.com/sentryagent/agentidp/deploy/local/stack"
)

// config is the soak's environment.
type config struct {
	Duration     time.Duration // SOAK_DURATION: the measured phase (default 10m)
	Rate         float64       // RATE: operations/s; 0 measures the peak and takes half
	PeakDuration time.Duration // SOAK_PEAK_DURATION: the closed-loop peak measurement (20s)
	Warmup       time.Duration // SOAK_WARMUP: load before the start sample (90s)
	Sample       time.Duration // SOAK_SAMPLE: interval of the samples under load (30s)
	Agents       int           // SOAK_AGENTS: agents with agents:read (200)
	Writers      int           // SOAK_WRITERS: agents with agents:write too (40)
	Workers      int           // SOAK_WORKERS: requests in flight at most (128)
	Doc          string        // SOAK_DOC: document to write the report into ("" none)
	Logs         string        // SOAK_LOGS: where the processes' logs go when the soak fails ("" nowhere)
	// SOAK_PROFILES: a directory for the Go services' heap profiles at the
	// start and end samples (turns PPROF_ENABLED on); "" takes none.
	Profiles string
	// SOAK_SERVICE_ENV: extra environment per service, e.g.
	// "authz:TOKEN_CACHE_SIZE=4096,token:LOG_LEVEL=warn".
	ServiceEnv map[string][]string
	Note       string // SOAK_NOTE: a remark for the report
}

func loadConfig() (config, error) {
	c := config{Duration: 10 * time.Minute, PeakDuration: 20 * time.Second, Warmup: 90 * time.Second,
		Sample: 30 * time.Second, Agents: 200, Writers: 40, Workers: 128, Doc: "docs/benchmarks.md"}
	durations := map[string]*time.Duration{"SOAK_DURATION": &c.Duration, "SOAK_PEAK_DURATION": &c.PeakDuration,
		"SOAK_WARMUP": &c.Warmup, "SOAK_SAMPLE": &c.Sample}
	for name, dst := range durations {
		if v := os.Getenv(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return c, fmt.Errorf("%s: %q is not a positive duration (e.g. 10m)", name, v)
			}
			*dst = d
		}
	}
	ints := map[string]*int{"SOAK_AGENTS": &c.Agents, "SOAK_WRITERS": &c.Writers, "SOAK_WORKERS": &c.Workers}
	for name, dst := range ints {
		if v := os.Getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 100_000 {
				return c, fmt.Errorf("%s: %q is not a number from 1 to 100000", name, v)
			}
			*dst = n
		}
	}
	if v := os.Getenv("RATE"); v != "" {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || r <= 0 {
			return c, fmt.Errorf("RATE: %q is not a positive number of operations per second", v)
		}
		c.Rate = r
	}
	if v, ok := os.LookupEnv("SOAK_DOC"); ok {
		c.Doc = v
	}
	c.Note = os.Getenv("SOAK_NOTE")
	c.Logs = os.Getenv("SOAK_LOGS")
	c.Profiles = os.Getenv("SOAK_PROFILES")
	if v := os.Getenv("SOAK_SERVICE_ENV"); v != "" {
		c.ServiceEnv = map[string][]string{}
		for _, item := range strings.Split(v, ",") {
			svc, kv, ok := strings.Cut(strings.TrimSpace(item), ":")
			if !ok || !strings.Contains(kv, "=") {
				return c, fmt.Errorf("SOAK_SERVICE_ENV: %q is not service:NAME=value", item)
			}
			c.ServiceEnv[svc] = append(c.ServiceEnv[svc], kv)
		}
	}
	return c, nil
}

func main() {
	cfg, err := loadConfig()
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	text := rep.markdown()
	fmt.Println(text)
	if cfg.Doc != "" {
		if err := docsection.Replace(cfg.Doc, "soak-results", text); err != nil {
			fmt.Fprintln(os.Stderr, "soak:", err)
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "soak: wrote the report into", cfg.Doc)
	}
	if !rep.pass() {
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "soak: "+format+"\n", args...)
}

func run(ctx context.Context, cfg config) (*report, error) {
	root, err := stack.FindRepoRoot()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "agentidp-soak-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	// Traversable, so that PostgreSQL (run as its own user) keeps its data
	// inside dir and goes with it.
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	// A copy of the policies: edits in the checkout during the soak do not
	// reach it. The default rate limits stay.
	policies := filepath.Join(dir, "policies")
	if err := os.CopyFS(policies, os.DirFS(filepath.Join(root, "policies"))); err != nil {
		return nil, err
	}
	if cfg.Profiles != "" {
		if err := os.MkdirAll(cfg.Profiles, 0o755); err != nil {
			return nil, fmt.Errorf("SOAK_PROFILES: %w", err)
		}
		env := map[string][]string{}
		for k, v := range cfg.ServiceEnv {
			env[k] = v
		}
		for _, svc := range []string{"registry", "credentials", "audit", "token", "authz"} {
			env[svc] = append(env[svc], "PPROF_ENABLED=true")
		}
		cfg.ServiceEnv = env
	}
	ports, err := stack.FreePorts()
	if err != nil {
		return nil, err
	}
	logf("starting the mesh in %s (2 token and 2 authz replicas)", dir)
	startCtx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	s, err := stack.Start(startCtx, stack.Config{Dir: dir, Ports: ports, TokenReplicas: 2, AuthzReplicas: 2,
		PolicyDir: policies, ExtraEnv: cfg.ServiceEnv, Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		return nil, fmt.Errorf("start the mesh: %w", err)
	}
	defer s.Stop()
	f := newFleet(s.GatewayURL(), cfg.Workers)
	logf("registering %d agents and %d writers with a credential each", cfg.Agents, cfg.Writers)
	if err := populate(startCtx, s, f, cfg.Agents, cfg.Writers); err != nil {
		return nil, err
	}
	rep := &report{cfg: cfg, started: time.Now()}
	var next atomic.Int64

	rep.rate = cfg.Rate
	if rep.rate == 0 {
		logf("measuring the peak: closed loop, 32 workers, %s (after 5s of warm-up)", cfg.PeakDuration)
		closedLoop(ctx, f, 32, 5*time.Second, &next)
		peak := closedLoop(ctx, f, 32, cfg.PeakDuration, &next)
		rep.peak = float64(peak.ok) / cfg.PeakDuration.Seconds()
		rep.peakTally = peak
		rep.rate = rep.peak / 2
		logf("peak %.0f ops/s (%d of %d as expected); soaking at %.0f ops/s", rep.peak, peak.ok, peak.sent, rep.rate)
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	logf("warm-up: %s at %.0f ops/s", cfg.Warmup, rep.rate)
	rep.warmup = openLoop(ctx, f, rep.rate, cfg.Workers, cfg.Warmup, time.Hour, &next, nil)
	// Connection pools (Envoy's upstreams, the services' Redis and gRPC
	// clients, the HTTP servers' connections) grow with concurrency and
	// keep what they opened. A burst with every worker busy grows them to
	// what the soak can ever ask for, so that a stall during the soak
	// (on a shared machine, every worker in flight) cannot pass for a leak.
	logf("growing the pools: %d workers, closed loop, 5s", cfg.Workers)
	rep.burst = closedLoop(ctx, f, cfg.Workers, 5*time.Second, &next)

	procs := s.Processes()
	pgURL := s.PostgresURL("postgres")
	atRest := func() snapshot {
		// Between phases, with the client's idle connections closed: both
		// samples see the mesh in the same state.
		f.hc.CloseIdleConnections()
		time.Sleep(3 * time.Second)
		return takeSnapshot(ctx, procs, pgURL)
	}
	rep.start = atRest()
	saveProfiles(ctx, cfg.Profiles, procs, "start")
	logf("soaking for %s at %.0f ops/s (a sample every %s)", cfg.Duration, rep.rate, cfg.Sample)
	var mu sync.Mutex
	soakStart := time.Now()
	rep.soak = openLoop(ctx, f, rep.rate, cfg.Workers, cfg.Duration, cfg.Sample, &next, func(w *tally) {
		snap := takeSnapshot(ctx, procs, pgURL)
		mu.Lock()
		defer mu.Unlock()
		rep.windows = append(rep.windows, window{at: time.Since(soakStart), tally: w, snap: snap})
		logf("%s: %.0f ops/s, p99 %s, %d 5xx, RSS total %.0f MiB", time.Since(soakStart).Round(time.Second),
			float64(w.sent)/cfg.Sample.Seconds(), w.quantile(-1, .99).Round(time.Millisecond), w.count(500, 599),
			float64(snap.totalRSS())/1024)
	})
	rep.elapsed = time.Since(soakStart)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	rep.end = atRest()
	saveProfiles(ctx, cfg.Profiles, procs, "end")
	rep.machine = machine.Describe()
	if !rep.pass() && cfg.Logs != "" {
		// The stack's directory goes when the soak ends; keep its logs.
		_ = os.RemoveAll(cfg.Logs)
		if err := os.CopyFS(cfg.Logs, os.DirFS(s.LogDir())); err != nil {
			logf("keeping the logs: %v", err)
		} else {
			logf("the processes' logs are in %s", cfg.Logs)
		}
	}
	return rep, nil
}
