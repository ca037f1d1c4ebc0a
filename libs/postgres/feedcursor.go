package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// FeedCursor is a libs/feed.Cursor that keeps a consumer's cursor in the table event_cursors
// (FeedCursorTableSQL), which the consumer's own migrations create.
type FeedCursor struct {
	Pool     *pgxpool.Pool
	Consumer string
}

// Load returns the saved sequence, or 0.
func (c FeedCursor) Load(ctx context.Context) (int64, error) {
	var seq int64
	err := c.Pool.QueryRow(ctx, `SELECT sequence FROM event_cursors WHERE consumer = $1`, c.Consumer).Scan(&seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return seq, err
}

// Save stores sequence (never moving backwards).
func (c FeedCursor) Save(ctx context.Context, sequence int64) error {
	_, err := c.Pool.Exec(ctx, `
		INSERT INTO event_cursors (consumer, sequence) VALUES ($1, $2)
		ON CONFLICT (consumer) DO UPDATE SET sequence = GREATEST(event_cursors.sequence, EXCLUDED.sequence)`,
		c.Consumer, sequence)
	return err
}

// FeedCursorTableSQL creates the cursor table; include it in a migration.
const FeedCursorTableSQL = `CREATE TABLE IF NOT EXISTS event_cursors (
    consumer text PRIMARY KEY,
    sequence bigint NOT NULL
);`
