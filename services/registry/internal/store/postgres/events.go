package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/sentryagent/agentidp/libs/requestinfo"
	"github.com/sentryagent/agentidp/services/registry/internal/agent"
)

// eventsLockKey serialises writers of agent_events (pg_advisory_xact_lock),
// so that sequences commit in increasing order.
const eventsLockKey = 0x61676e7473 // "agnts"

// notifyChannel carries the sequence of each committed event.
const notifyChannel = "agent_events"

// appendEvent records a change in the outbox, inside the change's transaction.
func appendEvent(ctx context.Context, tx pgx.Tx, id uuid.UUID, typ agent.EventType, at time.Time) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(eventsLockKey)); err != nil {
		return fmt.Errorf("lock event log: %w", err)
	}
	info := requestinfo.From(ctx)
	_, err := tx.Exec(ctx, `
		WITH e AS (
			INSERT INTO agent_events (agent_id, type, occurred_at, actor, request_id, source_address)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING sequence
		)
		SELECT pg_notify('`+notifyChannel+`', sequence::text) FROM e`,
		id, string(typ), at, info.Actor, info.RequestID, info.SourceAddress)
	if err != nil {
		return fmt.Errorf("append event: %w", err)
	}
	return nil
}

var _ agent.EventLog = (*Store)(nil)

// EventsAfter reads the feed with each agent's current state.
func (s *Store) EventsAfter(ctx context.Context, after int64, limit int) ([]agent.Event, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT e.sequence, e.type, e.occurred_at, e.actor, e.request_id, e.source_address, `+prefixed("a.")+`
		FROM agent_events e JOIN agents a USING (agent_id)
		WHERE e.sequence > $1 ORDER BY e.sequence LIMIT $2`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	defer rows.Close()
	var out []agent.Event
	for rows.Next() {
		var e agent.Event
		var typ string
		a, err := scanWith(rows, &e.Sequence, &typ, &e.OccurredAt, &e.Request.Actor, &e.Request.RequestID, &e.Request.SourceAddress)
		if err != nil {
			return nil, fmt.Errorf("read events: %w", err)
		}
		e.Type, e.OccurredAt, e.Agent = agent.EventType(typ), e.OccurredAt.UTC(), a
		out = append(out, e)
	}
	return out, rows.Err()
}

// LastSequence returns the newest committed event's sequence (0: none).
func (s *Store) LastSequence(ctx context.Context) (int64, error) {
	var seq int64
	if err := s.pool.QueryRow(ctx, `SELECT coalesce(max(sequence), 0) FROM agent_events`).Scan(&seq); err != nil {
		return 0, fmt.Errorf("read last event: %w", err)
	}
	return seq, nil
}

// WaitForEvents returns when a new event may have been committed, maxWait
// has passed, or ctx ends.
func (s *Store) WaitForEvents(ctx context.Context, maxWait time.Duration) {
	s.notify.Wait(ctx, maxWait)
}

// Listen holds one connection in LISTEN agent_events until ctx ends, waking
// WaitForEvents (and so WatchAgentEvents streams) on each commit.
func (s *Store) Listen(ctx context.Context) error { return s.notify.Listen(ctx) }
