// Package postgres stores the audit log in PostgreSQL (pgx/v5): appends
// with COPY under one advisory lock, so the hash chain stays linear.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sentryagent/agentidp/libs/auditlog"
	"github.com/sentryagent/agentidp/services/audit/internal/audit"
)

// Role is the restricted role the service's queries run as: SELECT and
// INSERT on the log, no UPDATE or DELETE (migration 001).
const Role = "agentidp_audit_writer"

// appendLockKey serialises appends and retention (pg_advisory_xact_lock),
// so sequences and hashes form one line. "audit" in ASCII; the SQL
// function audit_apply_retention uses the same number.
const appendLockKey = 0x6175646974

// DefaultPartitionsAhead is how many months of partitions exist beyond the
// current one.
const DefaultPartitionsAhead = 2

// RoleURL returns databaseURL with the startup parameter role=Role, so
// every connection of the pool runs as the restricted role from its first
// query. (Set at connection start rather than with SET ROLE, RESET ROLE
// cannot undo it.) Both URL and keyword/value forms are accepted.
func RoleURL(databaseURL string) (string, error) {
	if strings.HasPrefix(databaseURL, "postgres://") || strings.HasPrefix(databaseURL, "postgresql://") {
		u, err := url.Parse(databaseURL)
		if err != nil {
			return "", errors.New("DATABASE_URL: the database URL is malformed")
		}
		q := u.Query()
		q.Set("role", Role)
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
	return strings.TrimSpace(databaseURL) + " role=" + Role, nil
}

// Store implements audit.Store.
type Store struct {
	pool *pgxpool.Pool
	// partitionsAhead is passed to EnsurePartitions when an append finds no
	// partition for its time.
	partitionsAhead int
}

var _ audit.Store = (*Store)(nil)

// New returns a store over a migrated database, whose pool connects as Role.
// partitionsAhead is how many months of partitions an append creates beyond
// its own when it finds none (PARTITIONS_AHEAD); 0 means
// DefaultPartitionsAhead.
func New(pool *pgxpool.Pool, partitionsAhead int) *Store {
	if partitionsAhead <= 0 {
		partitionsAhead = DefaultPartitionsAhead
	}
	return &Store{pool: pool, partitionsAhead: partitionsAhead}
}

// Pool is the store's connection pool.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// EnsurePartitions creates the monthly partitions for from's month and the
// next months, if missing. It returns how many it created.
func (s *Store) EnsurePartitions(ctx context.Context, from time.Time, months int) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT audit_ensure_partitions($1, $2)`, from, months).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("ensure partitions: %w", err)
	}
	return n, nil
}

// RetentionFloor is the fewest days of events the database lets retention
// drop (audit_retention_policy.min_days, enforced by audit_apply_retention
// itself; only the owner changes it).
func (s *Store) RetentionFloor(ctx context.Context) (int, error) {
	var days int
	if err := s.pool.QueryRow(ctx, `SELECT min_days FROM audit_retention_policy`).Scan(&days); err != nil {
		return 0, fmt.Errorf("read the retention floor: %w", err)
	}
	return days, nil
}

// Dropped describes a partition that retention dropped.
type Dropped struct {
	Partition         string
	Events            int64
	FirstSequence     int64 // 0 for an empty partition
	LastSequence      int64
	RetentionSequence int64 // the audit.retention event that records the drop
}

// ApplyRetention drops every partition whose month ended before cutoff,
// recording each drop in the chain (see audit_apply_retention).
func (s *Store) ApplyRetention(ctx context.Context, cutoff, now time.Time) ([]Dropped, error) {
	rows, err := s.pool.Query(ctx, `SELECT partition_name, events, coalesce(first_sequence, 0),
		coalesce(last_sequence, 0), retention_sequence FROM audit_apply_retention($1, $2)`, cutoff, now)
	if err != nil {
		return nil, fmt.Errorf("apply retention: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Dropped, error) {
		var d Dropped
		err := r.Scan(&d.Partition, &d.Events, &d.FirstSequence, &d.LastSequence, &d.RetentionSequence)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("apply retention: %w", err)
	}
	return out, nil
}

var columns = []string{"sequence", "event_id", "occurred_at", "recorded_at", "actor", "action", "target",
	"agent_id", "outcome", "request_id", "source_address", "details", "prev_hash", "hash", "owner"}

const selectColumns = `sequence, event_id, occurred_at, recorded_at, actor, action, target,
	agent_id, outcome, request_id, source_address, details, prev_hash, hash, owner`

// Append stores the events whose id is new at the end of the chain. If no
// partition covers the time (the maintenance loop fell behind), it creates
// the partitions and tries once more.
func (s *Store) Append(ctx context.Context, events []auditlog.Event, now time.Time) ([]audit.Event, error) {
	if len(events) == 0 {
		return nil, nil
	}
	now = now.UTC().Truncate(time.Microsecond)
	stored, err := s.appendOnce(ctx, events, now)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23514" && strings.Contains(pgErr.Message, "no partition") {
		if _, err := s.EnsurePartitions(ctx, now, s.partitionsAhead); err != nil {
			return nil, err
		}
		stored, err = s.appendOnce(ctx, events, now)
	}
	return stored, err
}

func (s *Store) appendOnce(ctx context.Context, events []auditlog.Event, now time.Time) ([]audit.Event, error) {
	var stored []audit.Event
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// [16]byte encodes directly (uuid.UUID would go through driver.Valuer and text).
		ids := make([][16]byte, len(events))
		for i, e := range events {
			ids[i] = e.ID
		}
		// One round trip: take the lock, then read what it protects.
		b := &pgx.Batch{}
		b.Queue(`SELECT pg_advisory_xact_lock($1)`, int64(appendLockKey))
		b.Queue(`SELECT event_id FROM audit_event_ids WHERE event_id = ANY($1)`, ids)
		b.Queue(`SELECT sequence, hash, recorded_at FROM audit_chain_head`)
		br := tx.SendBatch(ctx, b)
		if _, err := br.Exec(); err != nil {
			br.Close()
			return fmt.Errorf("lock the chain: %w", err)
		}
		rows, _ := br.Query()
		known, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		if err != nil {
			br.Close()
			return fmt.Errorf("look up event ids: %w", err)
		}
		var head audit.Head
		if err := br.QueryRow().Scan(&head.Sequence, &head.Hash, &head.RecordedAt); err != nil {
			br.Close()
			return fmt.Errorf("read the chain head: %w", err)
		}
		if err := br.Close(); err != nil {
			return err
		}
		seen := make(map[uuid.UUID]bool, len(known))
		for _, id := range known {
			seen[id] = true
		}
		recordedAt := now
		if head.RecordedAt.After(recordedAt) {
			recordedAt = head.RecordedAt.UTC() // the chain's time never goes back
		}
		prev := head.Hash
		seq := head.Sequence
		stored = make([]audit.Event, 0, len(events))
		for _, e := range events {
			if seen[e.ID] {
				continue
			}
			seen[e.ID] = true
			seq++
			ev := audit.Event{Event: e, Sequence: seq, PrevHash: prev, RecordedAt: recordedAt}
			ev.Hash = audit.ChainHash(prev, ev)
			prev = ev.Hash
			stored = append(stored, ev)
		}
		if len(stored) == 0 {
			return nil
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"audit_events"}, columns, pgx.CopyFromSlice(len(stored), func(i int) ([]any, error) {
			e := stored[i]
			details := e.Details
			if details == nil {
				details = map[string]string{}
			}
			return []any{e.Sequence, [16]byte(e.ID), e.OccurredAt, e.RecordedAt, e.Actor, e.Action, e.Target,
				agentID(e.AgentID), e.Outcome, e.RequestID, e.SourceAddress, details, e.PrevHash, e.Hash, e.Owner}, nil
		})); err != nil {
			return fmt.Errorf("copy events: %w", err)
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"audit_event_ids"}, []string{"event_id", "sequence", "recorded_at"},
			pgx.CopyFromSlice(len(stored), func(i int) ([]any, error) {
				return []any{[16]byte(stored[i].ID), stored[i].Sequence, stored[i].RecordedAt}, nil
			})); err != nil {
			return fmt.Errorf("copy event ids: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE audit_chain_head SET sequence = $1, hash = $2, recorded_at = $3`,
			seq, prev, recordedAt); err != nil {
			return fmt.Errorf("move the chain head: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return stored, nil
}

// agentID converts a validated agent id for the uuid column.
func agentID(s string) pgtype.UUID {
	if s == "" {
		return pgtype.UUID{}
	}
	return pgtype.UUID{Bytes: uuid.MustParse(s), Valid: true}
}

// scan reads one row of selectColumns.
func scan(row pgx.Row) (audit.Event, error) {
	var e audit.Event
	var agent pgtype.UUID
	var details map[string]string
	err := row.Scan(&e.Sequence, &e.ID, &e.OccurredAt, &e.RecordedAt, &e.Actor, &e.Action, &e.Target,
		&agent, &e.Outcome, &e.RequestID, &e.SourceAddress, &details, &e.PrevHash, &e.Hash, &e.Owner)
	if err != nil {
		return audit.Event{}, err
	}
	if agent.Valid {
		e.AgentID = uuid.UUID(agent.Bytes).String()
	}
	if len(details) > 0 {
		e.Details = details
	}
	e.OccurredAt, e.RecordedAt = e.OccurredAt.UTC(), e.RecordedAt.UTC()
	return e, nil
}
