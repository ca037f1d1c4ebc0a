package postgres

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/sentryagent/agentidp/services/credentials/internal/credential"
)

// verifySelect reads, in one round trip, a credential, the verifiers of
// its current and previous versions, and the projected agent.
const verifySelect = `SELECT ` + columns + `,
		cur.secret_hash, cur.vault_version, prev.version, prev.secret_hash, prev.vault_version,
		a.status, a.scopes, a.owner
	FROM ` + fromCurrent + `
	LEFT JOIN credential_secrets prev
		ON prev.credential_id = c.credential_id AND prev.version = c.rotated_from AND prev.status = 'active'
	LEFT JOIN agents a ON a.agent_id = c.agent_id`

func scanVerify(row pgx.Row) (credential.VerifyRecord, error) {
	var (
		curHash, prevHash             *string
		curVault, prevVersion, prevVV *int64
		agentStatus, owner            *string
		scopes                        []string
	)
	c, err := scanWith(row, &curHash, &curVault, &prevVersion, &prevHash, &prevVV, &agentStatus, &scopes, &owner)
	if err != nil {
		return credential.VerifyRecord{}, err
	}
	rec := credential.VerifyRecord{Credential: c, Current: verifier(c.SecretVersion, curHash, curVault)}
	if prevVersion != nil {
		p := verifier(*prevVersion, prevHash, prevVV)
		rec.Previous = &p
	}
	if agentStatus != nil {
		rec.Agent = &credential.Agent{ID: c.AgentID, Status: *agentStatus, Scopes: scopes, Owner: *owner}
	}
	return rec, nil
}

func verifier(version int64, hash *string, vaultVersion *int64) credential.Verifier {
	v := credential.Verifier{Version: version}
	if hash != nil {
		v.Hash = *hash
	}
	if vaultVersion != nil {
		v.VaultVersion = *vaultVersion
	}
	return v
}

// ForVerify reads one visible credential for verification.
func (s *Store) ForVerify(ctx context.Context, id uuid.UUID) (credential.VerifyRecord, error) {
	rec, err := scanVerify(s.pool.QueryRow(ctx, verifySelect+` WHERE c.credential_id = $1 AND c.status <> 'pending'`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return rec, credential.ErrNotFound
	}
	return rec, dbErr("read credential", err)
}

// LegacyForVerify reads the agent's active credentials whose current or
// previous version has a bcrypt verifier, or exactly verifier (a bcrypt
// verifier upgraded to sha256 when its secret was last presented), that
// one first: it costs a SHA-256 comparison, the others a bcrypt each.
func (s *Store) LegacyForVerify(ctx context.Context, agentID uuid.UUID, verifier string) ([]credential.VerifyRecord, error) {
	rows, err := s.pool.Query(ctx, verifySelect+`
		WHERE c.agent_id = $1 AND c.status = 'active'
			AND (left(cur.secret_hash, 2) = '$2' OR left(prev.secret_hash, 2) = '$2'
				OR cur.secret_hash = $2 OR prev.secret_hash = $2)
		ORDER BY (cur.secret_hash = $2 OR prev.secret_hash = $2) IS TRUE DESC, c.credential_id
		LIMIT 20`, agentID, verifier)
	if err != nil {
		return nil, dbErr("read legacy credentials", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (credential.VerifyRecord, error) { return scanVerify(r) })
	return out, dbErr("read legacy credentials", err)
}

// UpgradeVerifier replaces a version's verifier, compare-and-set on the
// old one (a concurrent verification may have upgraded it already).
func (s *Store) UpgradeVerifier(ctx context.Context, credentialID uuid.UUID, version int64, from, to string) error {
	_, err := s.pool.Exec(ctx, `UPDATE credential_secrets SET secret_hash = $4
		WHERE credential_id = $1 AND version = $2 AND secret_hash = $3`, credentialID, version, from, to)
	return dbErr("upgrade verifier", err)
}
