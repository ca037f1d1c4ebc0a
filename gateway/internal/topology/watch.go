package topology

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Load reads and validates the config file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	cfg, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// Watcher polls the config file and hands every new valid version, resolved,
// to Apply. A file that fails to parse, validate or resolve is logged and
// ignored: the last good configuration stays in force.
type Watcher struct {
	Path string
	// Apply installs a configuration; an error leaves the previous one.
	Apply  func(ctx context.Context, res *Resolved) error
	Logger *slog.Logger
	// Reload forces a re-read (and re-resolve) of the file, e.g. on SIGHUP.
	Reload <-chan os.Signal
	// Interval between polls of the file; default 500ms.
	Interval time.Duration
	// ResolveInterval between re-resolutions of endpoint host names;
	// default 30s.
	ResolveInterval time.Duration
	// Resolver looks up host names; default net.DefaultResolver.
	Resolver Resolver
	// Rejected, if set, counts versions of the file that were not applied.
	Rejected prometheus.Counter
}

// Run applies the file now and then whenever it changes, until ctx ends.
func (w *Watcher) Run(ctx context.Context) error {
	if w.Interval <= 0 {
		w.Interval = 500 * time.Millisecond
	}
	if w.ResolveInterval <= 0 {
		w.ResolveInterval = 30 * time.Second
	}
	if w.Resolver == nil {
		w.Resolver = net.DefaultResolver
	}
	poll := time.NewTicker(w.Interval)
	defer poll.Stop()
	resolve := time.NewTicker(w.ResolveInterval)
	defer resolve.Stop()

	var (
		seen    [sha256.Size]byte // hash of the last file read, good or bad
		loaded  bool
		latest  *Config // last valid file
		applied bool    // whether latest is in force
	)
	load := func(force bool, why string) {
		data, err := os.ReadFile(w.Path)
		if err != nil {
			w.Logger.Error("gateway config unreadable; keeping the previous configuration", "path", w.Path, "error", err)
			return
		}
		sum := sha256.Sum256(data)
		if loaded && sum == seen && !force {
			return
		}
		seen, loaded = sum, true
		cfg, err := Parse(data)
		if err != nil {
			w.reject()
			w.Logger.Error("gateway config invalid; keeping the previous configuration", "path", w.Path, "error", err)
			return
		}
		latest, applied = cfg, w.apply(ctx, cfg, why)
	}

	load(true, "start")
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-poll.C:
			load(false, "file changed")
		case <-w.Reload:
			w.Logger.Info("gateway config reload requested", "path", w.Path)
			load(true, "reload signal")
		case <-resolve.C:
			// Names may have moved; and a valid file that could not be
			// applied (say, a name not yet in DNS) deserves another try.
			if latest != nil && (!applied || latest.HasNames()) {
				applied = w.apply(ctx, latest, "re-resolve") || applied
			}
		}
	}
}

func (w *Watcher) apply(ctx context.Context, cfg *Config, why string) bool {
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	res, err := cfg.Resolve(rctx, w.Resolver)
	cancel()
	if err != nil {
		w.reject()
		w.Logger.Error("gateway config endpoints unresolvable; keeping the previous configuration", "path", w.Path, "error", err)
		return false
	}
	if err := w.Apply(ctx, res); err != nil {
		w.reject()
		w.Logger.Error("gateway config not applied; keeping the previous configuration", "path", w.Path, "reason", why, "error", err)
		return false
	}
	return true
}

func (w *Watcher) reject() {
	if w.Rejected != nil {
		w.Rejected.Inc()
	}
}
