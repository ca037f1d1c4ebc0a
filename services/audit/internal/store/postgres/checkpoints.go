package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/sentryagent/agentidp/services/audit/internal/audit"
)

var _ audit.CheckpointLister = (*Store)(nil)

// InsertCheckpoint stores a signed checkpoint (a copy: verification checks
// its signature against keys from outside the database).
func (s *Store) InsertCheckpoint(ctx context.Context, c audit.Checkpoint) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO audit_checkpoints (sequence, hash, signed_at, key_id, algorithm, signature)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
		c.Sequence, c.Hash, c.SignedAt, c.KeyID, c.Algorithm, c.Signature)
	if err != nil {
		return fmt.Errorf("store the checkpoint: %w", err)
	}
	return nil
}

// ListCheckpoints returns up to limit stored checkpoints at or after
// sequence from, oldest first.
func (s *Store) ListCheckpoints(ctx context.Context, from int64, limit int) ([]audit.Checkpoint, error) {
	rows, err := s.pool.Query(ctx, `SELECT sequence, hash, signed_at, key_id, algorithm, signature
		FROM audit_checkpoints WHERE sequence >= $1 ORDER BY sequence, signed_at, key_id LIMIT $2`, from, limit)
	if err != nil {
		return nil, fmt.Errorf("list checkpoints: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (audit.Checkpoint, error) {
		var c audit.Checkpoint
		err := r.Scan(&c.Sequence, &c.Hash, &c.SignedAt, &c.KeyID, &c.Algorithm, &c.Signature)
		c.SignedAt = c.SignedAt.UTC()
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("list checkpoints: %w", err)
	}
	return out, nil
}

// AllCheckpoints returns every stored checkpoint, oldest first.
func (s *Store) AllCheckpoints(ctx context.Context) ([]audit.Checkpoint, error) {
	return s.ListCheckpoints(ctx, 0, 1<<31-1)
}
