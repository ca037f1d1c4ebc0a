package credential

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
)

// UsageStore writes lastUsedAt for many credentials in one statement.
// Implementations must pass storetest's suite.
type UsageStore interface {
	TouchLastUsed(ctx context.Context, ids []uuid.UUID, at []time.Time) error
}

// UsageRecorder keeps each credential's last use in memory and flushes the
// batch with one UPDATE per interval (and on shutdown), so the token hot
// path never waits for a write. lastUsedAt may lag by one interval.
type UsageRecorder struct {
	store    UsageStore
	interval time.Duration
	logger   *slog.Logger

	mu      sync.Mutex
	pending map[uuid.UUID]time.Time
}

// maxPendingUsage bounds memory if Postgres is down for long: beyond it,
// further uses are dropped until a flush succeeds (lastUsedAt is advisory).
const maxPendingUsage = 1_000_000

// NewUsageRecorder returns a recorder that flushes every interval (default 5s).
func NewUsageRecorder(store UsageStore, interval time.Duration, logger *slog.Logger) *UsageRecorder {
	if interval <= 0 {
		interval = 5 * time.Second
	}
	return &UsageRecorder{store: store, interval: interval, logger: logger, pending: map[uuid.UUID]time.Time{}}
}

// Record notes that credential id was used at at.
func (u *UsageRecorder) Record(id uuid.UUID, at time.Time) {
	if u == nil {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if prev, ok := u.pending[id]; ok {
		if at.After(prev) {
			u.pending[id] = at
		}
		return
	}
	if len(u.pending) < maxPendingUsage {
		u.pending[id] = at
	}
}

// Run flushes every interval until ctx ends, then flushes once more.
func (u *UsageRecorder) Run(ctx context.Context) error {
	t := time.NewTicker(u.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := u.Flush(fctx); err != nil {
				u.logger.Warn("final lastUsedAt flush failed", "error", err)
			}
			return nil
		case <-t.C:
			if err := u.Flush(ctx); err != nil && ctx.Err() == nil {
				u.logger.Warn("lastUsedAt flush failed; will retry", "error", err)
			}
		}
	}
}

// Flush writes the pending uses; on failure they are kept for the next one.
func (u *UsageRecorder) Flush(ctx context.Context) error {
	u.mu.Lock()
	batch := u.pending
	u.pending = make(map[uuid.UUID]time.Time, len(batch))
	u.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	ids := make([]uuid.UUID, 0, len(batch))
	ats := make([]time.Time, 0, len(batch))
	for id, at := range batch {
		ids = append(ids, id)
		ats = append(ats, at)
	}
	if err := u.store.TouchLastUsed(ctx, ids, ats); err != nil {
		for i, id := range ids {
			u.Record(id, ats[i])
		}
		return err
	}
	return nil
}
