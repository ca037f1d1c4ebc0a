package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/sentryagent/agentidp/services/credentials/internal/credential"
)

var _ credential.LegacyStore = (*Store)(nil)

// LegacySecrets lists the current versions of active credentials, and the
// previous versions still in their grace period, whose verifier is bcrypt.
func (s *Store) LegacySecrets(ctx context.Context, now time.Time) ([]credential.LegacySecret, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT c.agent_id, c.credential_id, v.version, v.version = c.secret_version,
			c.previous_secret_expires_at, c.created_at, c.last_used_at
		FROM credentials c
		JOIN credential_secrets v ON v.credential_id = c.credential_id AND v.status = 'active'
		WHERE c.status = 'active' AND left(v.secret_hash, 2) = '$2'
			AND (v.version = c.secret_version
				OR (v.version = c.rotated_from AND c.previous_secret_expires_at > $1))
		ORDER BY c.agent_id, c.credential_id, v.version`, now)
	if err != nil {
		return nil, dbErr("list legacy secrets", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (credential.LegacySecret, error) {
		var l credential.LegacySecret
		err := r.Scan(&l.AgentID, &l.CredentialID, &l.Version, &l.Current, &l.GraceEnds, &l.CreatedAt, &l.LastUsedAt)
		if !l.Current && l.GraceEnds != nil {
			u := l.GraceEnds.UTC()
			l.GraceEnds = &u
		} else {
			l.GraceEnds = nil
		}
		l.CreatedAt = l.CreatedAt.UTC()
		return l, err
	})
	return out, dbErr("list legacy secrets", err)
}

// EndGrace ends an active credential's grace period at now and records
// grace_ended in the same transaction (the sweeper's job, done at once).
func (s *Store) EndGrace(ctx context.Context, agentID, id uuid.UUID, now time.Time) (bool, error) {
	changed := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var cid uuid.UUID
		err := tx.QueryRow(ctx, `
			UPDATE credentials SET previous_secret_expires_at = $3, grace_end_pending = false
			WHERE credential_id = $1 AND agent_id = $2 AND status = 'active' AND previous_secret_expires_at > $3
			RETURNING credential_id`, id, agentID, now).Scan(&cid)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		changed = true
		return appendEvent(ctx, tx, credential.EventGraceEnded, id, agentID, now)
	})
	return changed, dbErr("end grace period", err)
}
