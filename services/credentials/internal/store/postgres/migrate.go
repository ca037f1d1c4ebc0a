package postgres

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/sentryagent/agentidp/services/credentials/internal/credential"
)

// MoveVaultVersion re-points a committed secret version from one KV version
// to the one write adds, under the credential's row lock (the lock that
// rotations and the reconciler take) and only while the credential has no
// pending row or version, so that no other writer of the KV path can run
// meanwhile.
func (s *Store) MoveVaultVersion(ctx context.Context, id uuid.UUID, version, from int64, write func(context.Context) (int64, error)) (bool, error) {
	moved := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var locked uuid.UUID
		err := tx.QueryRow(ctx, `SELECT credential_id FROM credentials
			WHERE credential_id = $1 AND status <> 'pending' FOR UPDATE`, id).Scan(&locked)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		var eligible bool
		err = tx.QueryRow(ctx, `SELECT
				EXISTS (SELECT 1 FROM credential_secrets
					WHERE credential_id = $1 AND version = $2 AND status = 'active' AND vault_version = $3)
				AND NOT EXISTS (SELECT 1 FROM credential_secrets WHERE credential_id = $1 AND status = 'pending')`,
			id, version, from).Scan(&eligible)
		if err != nil || !eligible {
			return err
		}
		to, err := write(ctx)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE credential_secrets SET vault_version = $4
			WHERE credential_id = $1 AND version = $2 AND vault_version = $3`, id, version, from, to); err != nil {
			return err
		}
		moved = true
		return nil
	})
	if err != nil {
		return false, dbErr("move vault version", err)
	}
	return moved, nil
}

// VaultCredentials pages through the committed credentials held in Vault
// with the KV versions their committed secret versions reference, leaving
// out those with a pending row or version.
func (s *Store) VaultCredentials(ctx context.Context, after uuid.UUID, limit int) ([]credential.VaultCredential, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT c.credential_id, c.agent_id, array_agg(v.version ORDER BY v.version), array_agg(v.vault_version ORDER BY v.version)
		FROM credentials c
		JOIN credential_secrets v ON v.credential_id = c.credential_id AND v.vault_version IS NOT NULL
		WHERE c.credential_id > $1 AND c.status <> 'pending'
		  AND NOT EXISTS (SELECT 1 FROM credential_secrets p WHERE p.credential_id = c.credential_id AND p.status = 'pending')
		GROUP BY c.credential_id, c.agent_id
		ORDER BY c.credential_id
		LIMIT $2`, after, limit)
	if err != nil {
		return nil, dbErr("list vault credentials", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (credential.VaultCredential, error) {
		var vc credential.VaultCredential
		var versions, kv []int64
		if err := row.Scan(&vc.ID, &vc.AgentID, &versions, &kv); err != nil {
			return vc, err
		}
		vc.Versions = make(map[int64]int64, len(versions))
		for i, v := range versions {
			vc.Versions[v] = kv[i]
		}
		return vc, nil
	})
	if err != nil {
		return nil, dbErr("list vault credentials", err)
	}
	return out, nil
}
