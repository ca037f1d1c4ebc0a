package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/sentryagent/agentidp/services/credentials/internal/credential"
)

// reconcileBatch bounds one reconciler pass.
const reconcileBatch = 200

// PendingCredentials lists pending credentials created before olderThan.
func (s *Store) PendingCredentials(ctx context.Context, olderThan time.Time) ([]uuid.UUID, error) {
	return s.ids(ctx, "pending credentials", `
		SELECT credential_id FROM credentials
		WHERE status = 'pending' AND created_at < $1 ORDER BY created_at LIMIT $2`, olderThan, reconcileBatch)
}

// PendingRotations lists committed credentials with a pending version
// created before olderThan.
func (s *Store) PendingRotations(ctx context.Context, olderThan time.Time) ([]uuid.UUID, error) {
	return s.ids(ctx, "pending rotations", `
		SELECT v.credential_id FROM credential_secrets v JOIN credentials c USING (credential_id)
		WHERE v.status = 'pending' AND c.status <> 'pending' AND v.created_at < $1
		ORDER BY v.created_at LIMIT $2`, olderThan, reconcileBatch)
}

func (s *Store) ids(ctx context.Context, op, sql string, args ...any) ([]uuid.UUID, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, dbErr(op, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	return ids, dbErr(op, err)
}

// UndoPendingCredential deletes a pending credential once undo succeeded.
// The row stays locked meanwhile, so an activation racing the undo waits
// and then finds nothing to activate. A row another transaction holds is
// skipped (its owner is still at work).
func (s *Store) UndoPendingCredential(ctx context.Context, id uuid.UUID, olderThan time.Time, undo func(credential.Credential) error) (bool, error) {
	done := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		c, err := scan(tx.QueryRow(ctx, `SELECT `+columns+` FROM `+fromCurrent+`
			WHERE c.credential_id = $1 AND c.status = 'pending' AND c.created_at < $2
			FOR UPDATE OF c SKIP LOCKED`, id, olderThan))
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := undo(c); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM credentials WHERE credential_id = $1`, id); err != nil {
			return err
		}
		done = true
		return nil
	})
	if err != nil {
		return false, dbErr("undo pending credential", err)
	}
	return done, nil
}

// UndoPendingRotation deletes a credential's pending version once undo
// succeeded, holding the credential's row lock so that no new rotation can
// begin (and write to Vault) while the undo destroys versions.
func (s *Store) UndoPendingRotation(ctx context.Context, id uuid.UUID, olderThan time.Time, undo func(credential.Credential, []int64) error) (bool, error) {
	done := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		c, err := lockCredential(ctx, tx, `credential_id = $1 AND status <> 'pending'`, id)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		var version int64
		err = tx.QueryRow(ctx, `SELECT version FROM credential_secrets
			WHERE credential_id = $1 AND status = 'pending' AND created_at < $2`, id, olderThan).Scan(&version)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT vault_version FROM credential_secrets
			WHERE credential_id = $1 AND status = 'active' AND vault_version IS NOT NULL`, id)
		if err != nil {
			return err
		}
		referenced, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		if err := undo(c, referenced); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM credential_secrets WHERE credential_id = $1 AND version = $2`, id, version); err != nil {
			return err
		}
		if len(referenced) == 0 {
			// Its move to Vault never completed: it has nothing there.
			if _, err := tx.Exec(ctx, `UPDATE credentials SET vault_path = NULL WHERE credential_id = $1`, id); err != nil {
				return err
			}
		}
		done = true
		return nil
	})
	if err != nil {
		return false, dbErr("undo pending rotation", err)
	}
	return done, nil
}
