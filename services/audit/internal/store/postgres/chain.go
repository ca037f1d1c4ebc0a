package postgres

import (
	"context"
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/sentryagent/agentidp/libs/auditlog"
	"github.com/sentryagent/agentidp/services/audit/internal/audit"
)

var _ audit.ChainReader = (*Store)(nil)

// Head reads the chain's recorded end.
func (s *Store) Head(ctx context.Context) (audit.Head, error) {
	var h audit.Head
	err := s.pool.QueryRow(ctx, `SELECT sequence, hash, recorded_at FROM audit_chain_head`).Scan(&h.Sequence, &h.Hash, &h.RecordedAt)
	if err != nil {
		return audit.Head{}, fmt.Errorf("read the chain head: %w", err)
	}
	return h, nil
}

// FirstSequence returns the oldest sequence kept.
func (s *Store) FirstSequence(ctx context.Context) (int64, bool, error) {
	var seq *int64
	if err := s.pool.QueryRow(ctx, `SELECT min(sequence) FROM audit_events`).Scan(&seq); err != nil {
		return 0, false, fmt.Errorf("read the first sequence: %w", err)
	}
	if seq == nil {
		return 0, false, nil
	}
	return *seq, true, nil
}

// Scan streams the events from..to in sequence order.
func (s *Store) Scan(ctx context.Context, from, to int64, fn func(audit.Event) error) error {
	rows, err := s.pool.Query(ctx, `SELECT `+selectColumns+` FROM audit_events
		WHERE sequence BETWEEN $1 AND $2 ORDER BY sequence`, from, to)
	if err != nil {
		return fmt.Errorf("scan the chain: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scan(rows)
		if err != nil {
			return fmt.Errorf("scan the chain: %w", err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return rows.Err()
}

// RetentionAnchor finds the audit.retention event that dropped the events
// up to lastDropped and returns the hash it recorded for that event.
func (s *Store) RetentionAnchor(ctx context.Context, lastDropped int64) ([]byte, bool, error) {
	var h string
	err := s.pool.QueryRow(ctx, `SELECT details->>'lastHash' FROM audit_events
		WHERE action = $1 AND details->>'lastSequence' = $2
		ORDER BY occurred_at DESC, sequence DESC LIMIT 1`,
		auditlog.ActionAuditRetention, strconv.FormatInt(lastDropped, 10)).Scan(&h)
	if err == pgx.ErrNoRows {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("find the retention anchor: %w", err)
	}
	b, err := hex.DecodeString(h)
	if err != nil {
		return nil, false, nil
	}
	return b, true, nil
}
