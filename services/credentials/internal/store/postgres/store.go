// Package postgres stores credentials, their secret versions and the
// projection of the registry's agents in PostgreSQL (pgx/v5).
package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sentryagent/agentidp/libs/postgres"

	"github.com/sentryagent/agentidp/libs/apierror"
	"github.com/sentryagent/agentidp/services/credentials/internal/credential"
)

// Store implements the credential package's stores and the change feed.
type Store struct {
	pool   *pgxpool.Pool
	notify *postgres.Notifications
}

var (
	_ credential.AllStores  = (*Store)(nil)
	_ credential.UsageStore = (*Store)(nil)
	_ credential.GraceStore = (*Store)(nil)
)

// New returns a store over a migrated database.
func New(pool *pgxpool.Pool) *Store {
	return &Store{pool: pool, notify: &postgres.Notifications{Pool: pool, Channel: notifyChannel}}
}

// columns of a credential, with its current version joined as cur.
const columns = `c.credential_id, c.agent_id, c.status, c.created_at, c.expires_at, c.last_used_at,
	c.revoked_at, c.secret_version, c.rotated_from, c.rotated_at, c.previous_secret_expires_at,
	c.vault_path, cur.vault_version IS NOT NULL`

const fromCurrent = `credentials c
	JOIN credential_secrets cur ON cur.credential_id = c.credential_id AND cur.version = c.secret_version`

func scanWith(row pgx.Row, extra ...any) (credential.Credential, error) {
	var c credential.Credential
	var state string
	var vaultPath *string
	var inVault bool
	dst := append([]any{&c.ID, &c.AgentID, &state, &c.CreatedAt, &c.ExpiresAt, &c.LastUsedAt,
		&c.RevokedAt, &c.SecretVersion, &c.RotatedFrom, &c.RotatedAt, &c.PreviousSecretExpiresAt,
		&vaultPath, &inVault}, extra...)
	if err := row.Scan(dst...); err != nil {
		return credential.Credential{}, err
	}
	c.State = credential.State(state)
	if vaultPath != nil {
		c.VaultPath = *vaultPath
	}
	c.Storage = credential.StorageHash
	if inVault {
		c.Storage = credential.StorageVault
	}
	c.CreatedAt = c.CreatedAt.UTC()
	for _, t := range []**time.Time{&c.ExpiresAt, &c.LastUsedAt, &c.RevokedAt, &c.RotatedAt, &c.PreviousSecretExpiresAt} {
		if *t != nil {
			u := (*t).UTC()
			*t = &u
		}
	}
	return c, nil
}

func scan(row pgx.Row) (credential.Credential, error) { return scanWith(row) }

// agentLockSpace namespaces the per-agent advisory locks.
const agentLockSpace = 0x63726564 // "cred"

// lockAgent serialises, per agent, the feed's revocation on decommission
// with the activation of new credentials: either the activation sees the
// agent decommissioned, or the revocation sees the active row.
func lockAgent(ctx context.Context, tx pgx.Tx, agentID uuid.UUID) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1::text, $2))`, agentID, int64(agentLockSpace))
	return err
}

// agentDecommissioned reads the projection inside the agent's lock.
func agentDecommissioned(ctx context.Context, tx pgx.Tx, agentID uuid.UUID) (bool, error) {
	var status string
	err := tx.QueryRow(ctx, `SELECT status FROM agents WHERE agent_id = $1`, agentID).Scan(&status)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return status == credential.AgentDecommissioned, err
}

// CreateActive inserts an active, hashed credential in one transaction.
func (s *Store) CreateActive(ctx context.Context, c credential.Credential, v credential.Verifier) (credential.Credential, error) {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockAgent(ctx, tx, c.AgentID); err != nil {
			return err
		}
		if gone, err := agentDecommissioned(ctx, tx, c.AgentID); err != nil || gone {
			return cmpErr(err, credential.ErrAgentNotActive.WithMessage("agent %s is decommissioned", c.AgentID))
		}
		if err := insertCredential(ctx, tx, c); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO credential_secrets (credential_id, version, status, secret_hash, created_at)
			VALUES ($1, 1, 'active', $2, $3)`, c.ID, v.Hash, c.CreatedAt); err != nil {
			return err
		}
		return appendEvent(ctx, tx, credential.EventCreated, c.ID, c.AgentID, c.CreatedAt)
	})
	if err != nil {
		return credential.Credential{}, dbErr("create credential", err)
	}
	return s.Get(ctx, c.AgentID, c.ID)
}

func insertCredential(ctx context.Context, tx pgx.Tx, c credential.Credential) error {
	var vaultPath *string
	if c.VaultPath != "" {
		vaultPath = &c.VaultPath
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO credentials (credential_id, agent_id, status, created_at, expires_at, secret_version, vault_path)
		VALUES ($1, $2, $3, $4, $5, 1, $6)`, c.ID, c.AgentID, string(c.State), c.CreatedAt, c.ExpiresAt, vaultPath)
	return err
}

// CreatePending commits a pending credential and its pending version 1.
func (s *Store) CreatePending(ctx context.Context, c credential.Credential) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := insertCredential(ctx, tx, c); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `
			INSERT INTO credential_secrets (credential_id, version, status, created_at)
			VALUES ($1, 1, 'pending', $2)`, c.ID, c.CreatedAt)
		return err
	})
	return dbErr("create pending credential", err)
}

// Activate makes a pending credential active, unless the agent was
// decommissioned meanwhile.
func (s *Store) Activate(ctx context.Context, id uuid.UUID, vaultVersion int64) (credential.Credential, error) {
	var agentID uuid.UUID
	err := s.pool.QueryRow(ctx, `SELECT agent_id FROM credentials WHERE credential_id = $1 AND status = 'pending'`, id).Scan(&agentID)
	if errors.Is(err, pgx.ErrNoRows) {
		return credential.Credential{}, credential.ErrPendingGone
	}
	if err != nil {
		return credential.Credential{}, dbErr("activate credential", err)
	}
	var out credential.Credential
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockAgent(ctx, tx, agentID); err != nil {
			return err
		}
		// The credential before its version, as the reconciler's undo
		// takes them (its delete cascades to the versions): in the other
		// order the two deadlock, and PostgreSQL may abort the undo after
		// it destroyed the secret in Vault, leaving this activation to
		// commit a credential without one. Waiting here, an activation
		// racing the undo finds the row gone.
		if _, err := lockCredential(ctx, tx, `credential_id = $1 AND status = 'pending'`, id); errors.Is(err, pgx.ErrNoRows) {
			return credential.ErrPendingGone
		} else if err != nil {
			return err
		}
		if gone, err := agentDecommissioned(ctx, tx, agentID); err != nil || gone {
			return cmpErr(err, credential.ErrAgentNotActive.WithMessage("agent %s was decommissioned", agentID))
		}
		tag, err := tx.Exec(ctx, `
			UPDATE credential_secrets SET status = 'active', vault_version = $2
			WHERE credential_id = $1 AND version = 1 AND status = 'pending'`, id, vaultVersion)
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			return credential.ErrPendingGone
		}
		if _, err := tx.Exec(ctx, `UPDATE credentials SET status = 'active' WHERE credential_id = $1 AND status = 'pending'`, id); err != nil {
			return err
		}
		if out, err = readCredential(ctx, tx, id); err != nil {
			return err
		}
		return appendEvent(ctx, tx, credential.EventCreated, out.ID, out.AgentID, out.CreatedAt)
	})
	if err != nil {
		return credential.Credential{}, dbErr("activate credential", err)
	}
	return out, nil
}

// Get returns a visible (non-pending) credential of the agent.
func (s *Store) Get(ctx context.Context, agentID, id uuid.UUID) (credential.Credential, error) {
	c, err := scan(s.pool.QueryRow(ctx, `SELECT `+columns+` FROM `+fromCurrent+`
		WHERE c.credential_id = $1 AND c.agent_id = $2 AND c.status <> 'pending'`, id, agentID))
	if errors.Is(err, pgx.ErrNoRows) {
		return credential.Credential{}, notFound(id)
	}
	if err != nil {
		return credential.Credential{}, dbErr("get credential", err)
	}
	return c, nil
}

func notFound(id uuid.UUID) error {
	return credential.ErrNotFound.WithMessage("credential %s not found", id)
}

// List returns up to limit of the agent's visible credentials after the given id.
func (s *Store) List(ctx context.Context, agentID, after uuid.UUID, limit int) ([]credential.Credential, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+columns+` FROM `+fromCurrent+`
		WHERE c.agent_id = $1 AND c.credential_id > $2 AND c.status <> 'pending'
		ORDER BY c.credential_id LIMIT $3`, agentID, after, limit)
	if err != nil {
		return nil, dbErr("list credentials", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (credential.Credential, error) { return scan(r) })
	if err != nil {
		return nil, dbErr("list credentials", err)
	}
	return out, nil
}

// Revoke revokes the credential if it is active; idempotent.
func (s *Store) Revoke(ctx context.Context, agentID, id uuid.UUID, at time.Time) (credential.Credential, bool, error) {
	var c credential.Credential
	changed := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// The update alone, then the read in a statement of its own: an
		// update joined to the current version in one statement that waits
		// for a concurrent rotation re-checks only the updated row, finds
		// no current version in its older snapshot, and would commit the
		// revocation without reporting it or recording it in the feed.
		tag, err := tx.Exec(ctx, `
			UPDATE credentials SET status = 'revoked', revoked_at = $3, grace_end_pending = false
			WHERE credential_id = $1 AND agent_id = $2 AND status = 'active'`, id, agentID, at)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		changed = true
		if c, err = readCredential(ctx, tx, id); err != nil {
			return err
		}
		return appendEvent(ctx, tx, credential.EventRevoked, id, agentID, at)
	})
	if err != nil {
		return credential.Credential{}, false, dbErr("revoke credential", err)
	}
	if changed {
		return c, true, nil
	}
	c, err = s.Get(ctx, agentID, id)
	return c, false, err
}

// lockCredential locks the credentials row matching where (whose $1 is
// the credential id) and reads the credential in a second statement. One
// SELECT ... FOR UPDATE joined to the current version would, after waiting
// for a concurrent rotation, re-check the join against the version of its
// older snapshot, find none and answer pgx.ErrNoRows for a credential that
// exists. (READ COMMITTED: each statement sees what committed before it.)
func lockCredential(ctx context.Context, tx pgx.Tx, where string, args ...any) (credential.Credential, error) {
	var locked uuid.UUID
	if err := tx.QueryRow(ctx, `SELECT credential_id FROM credentials WHERE `+where+` FOR UPDATE`, args...).Scan(&locked); err != nil {
		return credential.Credential{}, err
	}
	return readCredential(ctx, tx, locked)
}

func readCredential(ctx context.Context, tx pgx.Tx, id uuid.UUID) (credential.Credential, error) {
	return scan(tx.QueryRow(ctx, `SELECT `+columns+` FROM `+fromCurrent+` WHERE c.credential_id = $1`, id))
}

// lockForRotation locks the agent's visible credential and runs check.
func lockForRotation(ctx context.Context, tx pgx.Tx, agentID, id uuid.UUID, check func(credential.Credential) error) (credential.Credential, error) {
	c, err := lockCredential(ctx, tx, `credential_id = $1 AND agent_id = $2 AND status <> 'pending'`, id, agentID)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, notFound(id)
	}
	if err != nil {
		return c, err
	}
	if err := check(c); err != nil {
		return c, err
	}
	var since time.Time
	err = tx.QueryRow(ctx, `SELECT created_at FROM credential_secrets WHERE credential_id = $1 AND status = 'pending'`, id).Scan(&since)
	if err == nil {
		return c, &credential.PendingError{Since: since}
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return c, err
	}
	return c, nil
}

// makeCurrent points the credential at its new version, starting the
// previous version's grace period,
// and records the rotation in the change feed.
func makeCurrent(ctx context.Context, tx pgx.Tx, id uuid.UUID, version int64, grace time.Duration, now time.Time) (credential.Credential, error) {
	c, err := scan(tx.QueryRow(ctx, `
		WITH u AS (
			UPDATE credentials SET rotated_from = secret_version, secret_version = $2, rotated_at = $3,
				previous_secret_expires_at = $4, grace_end_pending = $5
			WHERE credential_id = $1
			RETURNING *
		)
		SELECT `+columns+` FROM u c
		JOIN credential_secrets cur ON cur.credential_id = c.credential_id AND cur.version = c.secret_version`,
		id, version, now, now.Add(grace), grace > 0))
	if err != nil {
		return c, err
	}
	return c, appendEvent(ctx, tx, credential.EventRotated, c.ID, c.AgentID, now)
}

// RotateHashed replaces the current secret with a hashed one in one transaction.
func (s *Store) RotateHashed(ctx context.Context, agentID, id uuid.UUID, check func(credential.Credential) error, v credential.Verifier, grace time.Duration, now time.Time) (credential.Credential, error) {
	var out credential.Credential
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		c, err := lockForRotation(ctx, tx, agentID, id, check)
		if err != nil {
			return err
		}
		next := c.SecretVersion + 1
		if _, err := tx.Exec(ctx, `
			INSERT INTO credential_secrets (credential_id, version, status, secret_hash, created_at)
			VALUES ($1, $2, 'active', $3, $4)`, id, next, v.Hash, now); err != nil {
			return err
		}
		out, err = makeCurrent(ctx, tx, id, next, grace, now)
		return err
	})
	if err != nil {
		return credential.Credential{}, dbErr("rotate credential", err)
	}
	return out, nil
}

// BeginRotation commits the next version as pending.
func (s *Store) BeginRotation(ctx context.Context, agentID, id uuid.UUID, check func(credential.Credential) error, vaultPath string, now time.Time) (credential.Credential, int64, error) {
	var c credential.Credential
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		if c, err = lockForRotation(ctx, tx, agentID, id, check); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO credential_secrets (credential_id, version, status, created_at)
			VALUES ($1, $2, 'pending', $3)`, id, c.SecretVersion+1, now); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE credentials SET vault_path = coalesce(vault_path, $2) WHERE credential_id = $1`, id, vaultPath)
		return err
	})
	if err != nil {
		return credential.Credential{}, 0, dbErr("begin rotation", err)
	}
	return c, c.SecretVersion + 1, nil
}

// CompleteRotation makes the pending version current.
func (s *Store) CompleteRotation(ctx context.Context, id uuid.UUID, version, vaultVersion int64, grace time.Duration, now time.Time) (credential.Credential, error) {
	var out credential.Credential
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var state string
		err := tx.QueryRow(ctx, `SELECT status FROM credentials WHERE credential_id = $1 FOR UPDATE`, id).Scan(&state)
		if errors.Is(err, pgx.ErrNoRows) {
			return credential.ErrPendingGone
		}
		if err != nil {
			return err
		}
		if state != string(credential.StateActive) {
			return credential.ErrNotActive.WithMessage("credential %s was revoked during the rotation", id)
		}
		tag, err := tx.Exec(ctx, `
			UPDATE credential_secrets SET status = 'active', vault_version = $3
			WHERE credential_id = $1 AND version = $2 AND status = 'pending'`, id, version, vaultVersion)
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			return credential.ErrPendingGone
		}
		out, err = makeCurrent(ctx, tx, id, version, grace, now)
		return err
	})
	if err != nil {
		return credential.Credential{}, dbErr("complete rotation", err)
	}
	return out, nil
}

// cmpErr returns err if set, else alt.
func cmpErr(err error, alt error) error {
	if err != nil {
		return err
	}
	return alt
}

// dbErr classifies a store error: domain errors pass through; a lost or
// refused connection becomes ErrDatabaseUnavailable (UNAVAILABLE); the rest
// is wrapped with the operation and becomes an opaque INTERNAL at the edge.
func dbErr(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case apierror.As(err) != nil, errors.Is(err, credential.ErrPendingGone),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	var pe *credential.PendingError
	if errors.As(err, &pe) {
		return err
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code[:2] {
		case "08", "53", "57": // connection exception, insufficient resources, operator intervention
			return fmt.Errorf("%s: %w: %w", op, credential.ErrDatabaseUnavailable, err)
		}
		return fmt.Errorf("%s: %w", op, err)
	}
	if errors.Is(err, pgx.ErrNoRows) || errors.Is(err, pgx.ErrTxClosed) {
		return fmt.Errorf("%s: %w", op, err)
	}
	// Anything else below pgx is the network or the server going away.
	return fmt.Errorf("%s: %w: %w", op, credential.ErrDatabaseUnavailable, err)
}
