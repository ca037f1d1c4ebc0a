package feed

import (
	"context"
	"sync/atomic"
)

// A PostgreSQL cursor (for consumers that keep what they derive in their
// own database) is libs/postgres.FeedCursor: this package stays free of a
// database driver, which authz and the token service never load.

// MemoryCursor resumes a feed where this process left it; a new process
// replays the feed from the start. It fits a projection kept in memory
// (authz's).
type MemoryCursor struct{ seq atomic.Int64 }

// Load returns the last saved sequence.
func (c *MemoryCursor) Load(context.Context) (int64, error) { return c.seq.Load(), nil }

// Save stores sequence.
func (c *MemoryCursor) Save(_ context.Context, sequence int64) error {
	c.seq.Store(sequence)
	return nil
}
