// Package agentevents follows the registry's change feed
// (agentidp.registry.v1.AgentEventsService) for services that react to
// agent lifecycle changes: it resumes from a persisted cursor, reconnects
// with backoff, and hands each event to the caller exactly in feed order.
package agentevents

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	registryv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/registry/v1"
)

// Cursor persists the sequence of the last event a consumer handled.
type Cursor interface {
	Load(ctx context.Context) (int64, error)
	Save(ctx context.Context, sequence int64) error
}

// Handler reacts to one event. It must be idempotent: after a crash the
// events since the last saved cursor are delivered again. An error stops
// progress; the event is retried after a backoff.
type Handler func(ctx context.Context, e *registryv1.AgentEvent) error

// Follow streams events after the cursor into handle until ctx ends,
// saving the cursor after each handled event. It returns only when ctx ends.
func Follow(ctx context.Context, client registryv1.AgentEventsServiceClient, cursor Cursor, handle Handler, logger *slog.Logger) error {
	backoff := newBackoff()
	for ctx.Err() == nil {
		progressed, err := followOnce(ctx, client, cursor, handle)
		if ctx.Err() != nil {
			return nil
		}
		if progressed {
			backoff.reset()
		}
		wait := backoff.next()
		logger.Warn("agent event feed interrupted; resuming", "error", err, "retry_in", wait)
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
	return nil
}

func followOnce(ctx context.Context, client registryv1.AgentEventsServiceClient, cursor Cursor, handle Handler) (progressed bool, err error) {
	after, err := cursor.Load(ctx)
	if err != nil {
		return false, fmt.Errorf("load cursor: %w", err)
	}
	// The stream is long-lived: no deadline, cancelled with ctx.
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := client.WatchAgentEvents(sctx, &registryv1.WatchAgentEventsRequest{AfterSequence: after})
	if err != nil {
		return false, err
	}
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return progressed, errors.New("the registry closed the feed")
		}
		if err != nil {
			return progressed, err
		}
		e := resp.GetEvent()
		if e.GetSequence() <= after {
			continue // a replay after a reconnect
		}
		if err := handle(ctx, e); err != nil {
			return progressed, fmt.Errorf("handle event %d (%s): %w", e.GetSequence(), e.GetType(), err)
		}
		if err := cursor.Save(ctx, e.GetSequence()); err != nil {
			return progressed, fmt.Errorf("save cursor: %w", err)
		}
		after, progressed = e.GetSequence(), true
	}
}

type backoff struct{ d time.Duration }

func newBackoff() *backoff { return &backoff{} }

func (b *backoff) reset() { b.d = 0 }

func (b *backoff) next() time.Duration {
	switch {
	case b.d == 0:
		b.d = 100 * time.Millisecond
	case b.d < 5*time.Second:
		b.d *= 2
	}
	return b.d
}

// PostgresCursor keeps a consumer's cursor in the table event_cursors
// (consumer text PRIMARY KEY, sequence bigint NOT NULL), which the
// consumer's own migrations create.
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
