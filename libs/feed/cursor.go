package feed

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PostgresCursor keeps a consumer's cursor in the table event_cursors
// (CursorTableSQL), which the consumer's own migrations create.
type PostgresCursor struct {
	Pool     *pgxpool.Pool
	Consumer string
}

// Load returns the saved sequence, or 0.
func (c PostgresCursor) Load(ctx context.Context) (int64, error) {
	var seq int64
	err := c.Pool.QueryRow(ctx, `SELECT sequence FROM event_cursors WHERE consumer = $1`, c.Consumer).Scan(&seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return seq, err
}

// Save stores sequence (never moving backwards).
func (c PostgresCursor) Save(ctx context.Context, sequence int64) error {
	_, err := c.Pool.Exec(ctx, `
		INSERT INTO event_cursors (consumer, sequence) VALUES ($1, $2)
		ON CONFLICT (consumer) DO UPDATE SET sequence = GREATEST(event_cursors.sequence, EXCLUDED.sequence)`,
		c.Consumer, sequence)
	return err
}

// CursorTableSQL creates the cursor table; include it in a migration.
const CursorTableSQL = `CREATE TABLE IF NOT EXISTS event_cursors (
    consumer text PRIMARY KEY,
    sequence bigint NOT NULL
);`

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
