package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/sentryagent/agentidp/libs/requestinfo"
	"github.com/sentryagent/agentidp/services/credentials/internal/credential"
)

// eventsLockKey serialises writers of credential_events
// (pg_advisory_xact_lock), so that sequences commit in increasing order.
// Every writer takes it last, right before its insert, so it is held only
// until the commit and never waited on while holding it.
const eventsLockKey = 0x63726576656e74 // "crevent"

// notifyChannel carries the sequence of each committed event.
const notifyChannel = "credential_events"

// appendEvent records a change in the outbox, inside the change's
// transaction, with who asked for it (libs/requestinfo in ctx).
func appendEvent(ctx context.Context, tx pgx.Tx, typ credential.EventType, credentialID, agentID uuid.UUID, at time.Time) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(eventsLockKey)); err != nil {
		return fmt.Errorf("lock event log: %w", err)
	}
	info := requestinfo.From(ctx)
	// The owner the service resolved for this change, else the projection's.
	var owner *string
	if o, ok := credential.OwnerFrom(ctx); ok {
		owner = &o
	}
	_, err := tx.Exec(ctx, `
		WITH e AS (
			INSERT INTO credential_events (credential_id, agent_id, type, occurred_at, actor, request_id, source_address, owner)
			VALUES ($1, $2, $3, $4, $5, $6, $7,
				coalesce($8, (SELECT owner FROM agents WHERE agent_id = $2), '')) RETURNING sequence
		)
		SELECT pg_notify('`+notifyChannel+`', sequence::text) FROM e`,
		credentialID, agentID, string(typ), at, info.Actor, info.RequestID, info.SourceAddress, owner)
	if err != nil {
		return fmt.Errorf("append event: %w", err)
	}
	return nil
}

// EventsAfter reads up to limit events with a sequence greater than after.
func (s *Store) EventsAfter(ctx context.Context, after int64, limit int) ([]credential.Event, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT sequence, type, occurred_at, credential_id, agent_id, actor, request_id, source_address, owner
		FROM credential_events WHERE sequence > $1 ORDER BY sequence LIMIT $2`, after, limit)
	if err != nil {
		return nil, dbErr("read events", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (credential.Event, error) {
		var e credential.Event
		var typ string
		err := r.Scan(&e.Sequence, &typ, &e.OccurredAt, &e.CredentialID, &e.AgentID, &e.Actor, &e.RequestID, &e.SourceAddress, &e.Owner)
		e.Type, e.OccurredAt = credential.EventType(typ), e.OccurredAt.UTC()
		return e, err
	})
	return out, dbErr("read events", err)
}

// LastSequence is the sequence of the newest event (0 if none).
func (s *Store) LastSequence(ctx context.Context) (int64, error) {
	var seq int64
	err := s.pool.QueryRow(ctx, `SELECT coalesce(max(sequence), 0) FROM credential_events`).Scan(&seq)
	return seq, dbErr("read last event", err)
}

// EndGracePeriods records grace_ended for every rotation whose grace has
// passed. Replicas may run it concurrently: each row is claimed once.
func (s *Store) EndGracePeriods(ctx context.Context, now time.Time) (int, error) {
	n := 0
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
			UPDATE credentials SET grace_end_pending = false
			WHERE credential_id IN (
				SELECT credential_id FROM credentials
				WHERE grace_end_pending AND previous_secret_expires_at <= $1
				ORDER BY previous_secret_expires_at LIMIT 500
				FOR UPDATE SKIP LOCKED)
			RETURNING credential_id, agent_id, previous_secret_expires_at`, now)
		if err != nil {
			return err
		}
		type ended struct {
			id, agent uuid.UUID
			at        time.Time
		}
		list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ended, error) {
			var e ended
			return e, r.Scan(&e.id, &e.agent, &e.at)
		})
		if err != nil {
			return err
		}
		for _, e := range list {
			if err := appendEvent(ctx, tx, credential.EventGraceEnded, e.id, e.agent, e.at.UTC()); err != nil {
				return err
			}
		}
		n = len(list)
		return nil
	})
	return n, dbErr("end grace periods", err)
}

// WaitForEvents returns when a new event may have been committed, maxWait
// has passed, or ctx ends.
func (s *Store) WaitForEvents(ctx context.Context, maxWait time.Duration) {
	s.notify.Wait(ctx, maxWait)
}

// Listen holds one connection in LISTEN credential_events until ctx ends, waking
// WaitForEvents (and so WatchCredentialEvents streams) on each commit.
func (s *Store) Listen(ctx context.Context) error { return s.notify.Listen(ctx) }
