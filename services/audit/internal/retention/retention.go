// Package retention keeps the audit log's partitions: it creates the coming
// months ahead of time and drops whole months older than the retention
// period, which is the only way events ever leave the log.
package retention

import (
	"context"
	"encoding/hex"
	"log/slog"
	"time"

	"github.com/sentryagent/agentidp/services/audit/internal/audit"
	pgstore "github.com/sentryagent/agentidp/services/audit/internal/store/postgres"
)

// Store is what maintenance needs of the log.
type Store interface {
	EnsurePartitions(ctx context.Context, from time.Time, months int) (int, error)
	ApplyRetention(ctx context.Context, cutoff, now time.Time) ([]pgstore.Dropped, error)
	Head(ctx context.Context) (audit.Head, error)
}

// Config configures a Maintainer.
type Config struct {
	Store Store
	// Retention is how long events are kept at least (0: forever). A month
	// is dropped once all of it is older than Retention.
	Retention time.Duration
	// Every is how often maintenance runs; default 1h.
	Every time.Duration
	// Ahead is how many months of partitions exist beyond the current one.
	Ahead int
	// Now defaults to time.Now.
	Now    func() time.Time
	Logger *slog.Logger
	// Dropped, if set, is called with what each round dropped.
	Dropped func([]pgstore.Dropped)
}

// Maintainer runs partition maintenance.
type Maintainer struct{ cfg Config }

// New returns a Maintainer.
func New(cfg Config) *Maintainer {
	if cfg.Every <= 0 {
		cfg.Every = time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Maintainer{cfg: cfg}
}

// Run maintains now and then every cfg.Every until ctx ends. Failures are
// logged and retried at the next round.
func (m *Maintainer) Run(ctx context.Context) error {
	t := time.NewTicker(m.cfg.Every)
	defer t.Stop()
	for {
		if err := m.Once(ctx); err != nil && ctx.Err() == nil {
			m.cfg.Logger.Error("audit partition maintenance failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Once creates the partitions ahead, applies retention and logs the chain
// head (a witness outside the database: logs shipped elsewhere let an
// auditor notice a rewritten chain).
func (m *Maintainer) Once(ctx context.Context) error {
	now := m.cfg.Now().UTC()
	if _, err := m.cfg.Store.EnsurePartitions(ctx, now, m.cfg.Ahead); err != nil {
		return err
	}
	if m.cfg.Retention > 0 {
		dropped, err := m.cfg.Store.ApplyRetention(ctx, now.Add(-m.cfg.Retention), now)
		if err != nil {
			return err
		}
		for _, d := range dropped {
			m.cfg.Logger.Info("audit retention dropped a partition", "partition", d.Partition, "events", d.Events,
				"first_sequence", d.FirstSequence, "last_sequence", d.LastSequence, "recorded_as", d.RetentionSequence)
		}
		if len(dropped) > 0 && m.cfg.Dropped != nil {
			m.cfg.Dropped(dropped)
		}
	}
	head, err := m.cfg.Store.Head(ctx)
	if err != nil {
		return err
	}
	m.cfg.Logger.Info("audit chain head", "sequence", head.Sequence, "hash", hex.EncodeToString(head.Hash))
	return nil
}
