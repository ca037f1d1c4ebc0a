package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/sentryagent/agentidp/libs/auditlog"

	"github.com/sentryagent/agentidp/services/audit/internal/audit"
)

// Get finds an event through the id table, then reads it from its
// partition (the lookup gives the partition key).
func (s *Store) Get(ctx context.Context, id uuid.UUID) (audit.Event, error) {
	var seq int64
	var recordedAt time.Time
	err := s.pool.QueryRow(ctx, `SELECT sequence, recorded_at FROM audit_event_ids WHERE event_id = $1`, id).Scan(&seq, &recordedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return audit.Event{}, audit.ErrNotFound.WithMessage("audit event %s not found", id)
	}
	if err != nil {
		return audit.Event{}, fmt.Errorf("get event: %w", err)
	}
	e, err := scan(s.pool.QueryRow(ctx, `SELECT `+selectColumns+` FROM audit_events
		WHERE sequence = $1 AND recorded_at = $2`, seq, recordedAt))
	if errors.Is(err, pgx.ErrNoRows) {
		// Its partition was dropped a moment ago by retention.
		return audit.Event{}, audit.ErrNotFound.WithMessage("audit event %s not found", id)
	}
	if err != nil {
		return audit.Event{}, fmt.Errorf("get event: %w", err)
	}
	return e, nil
}

// List returns up to limit events matching f, newest first by
// (occurred_at, sequence), strictly after the position after. Each filter
// has an index led by its column and followed by the sort key, so a page
// costs an index descent per partition.
func (s *Store) List(ctx context.Context, f audit.Filter, after *audit.Position, limit int) ([]audit.Event, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.AgentID != uuid.Nil {
		where = append(where, "agent_id = "+arg(f.AgentID))
	}
	if f.Action != "" {
		where = append(where, "action = "+arg(f.Action))
	}
	if f.Outcome != "" {
		where = append(where, "outcome = "+arg(f.Outcome))
		if f.Outcome != auditlog.OutcomeSuccess {
			// The predicate of audit_events_unsuccessful_idx, literally.
			where = append(where, "outcome <> 'success'")
		}
	}
	if f.Actor != "" {
		where = append(where, "actor = "+arg(f.Actor))
	}
	if f.Owner != "" {
		where = append(where, "owner = "+arg(f.Owner))
	}
	if !f.Start.IsZero() {
		where = append(where, "occurred_at >= "+arg(f.Start))
	}
	if !f.End.IsZero() {
		where = append(where, "occurred_at < "+arg(f.End))
	}
	if after != nil {
		where = append(where, "(occurred_at, sequence) < ("+arg(after.OccurredAt)+", "+arg(after.Sequence)+")")
	}
	query := `SELECT ` + selectColumns + ` FROM audit_events`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY occurred_at DESC, sequence DESC LIMIT " + arg(limit)
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (audit.Event, error) { return scan(r) })
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return out, nil
}
