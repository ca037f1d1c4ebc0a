package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/sentryagent/agentidp/services/credentials/internal/credential"
)

// ApplyAgent records the agent's state from feed event sequence seq (older
// sequences than the stored one change nothing) and, when the agent is
// decommissioned, revokes all its active credentials, in one transaction
// under the agent's lock. It returns the ids it revoked; replaying the
// event revokes nothing more.
func (s *Store) ApplyAgent(ctx context.Context, a credential.Agent, seq int64, at time.Time) ([]uuid.UUID, error) {
	var revoked []uuid.UUID
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockAgent(ctx, tx, a.ID); err != nil {
			return err
		}
		scopes := a.Scopes
		if scopes == nil {
			scopes = []string{}
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO agents (agent_id, status, scopes, owner, sequence, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (agent_id) DO UPDATE
				SET status = EXCLUDED.status, scopes = EXCLUDED.scopes, owner = EXCLUDED.owner,
					sequence = EXCLUDED.sequence, updated_at = EXCLUDED.updated_at
				WHERE agents.sequence < EXCLUDED.sequence`,
			a.ID, a.Status, scopes, a.Owner, seq, at); err != nil {
			return err
		}
		// A row projected before owners were recorded learns its owner from
		// any event, replays included (an event carries the agent's current
		// state); its status and scopes stay as newer events left them.
		if _, err := tx.Exec(ctx, `UPDATE agents SET owner = $2 WHERE agent_id = $1 AND owner = ''`, a.ID, a.Owner); err != nil {
			return err
		}
		if a.Status != credential.AgentDecommissioned {
			return nil
		}
		rows, err := tx.Query(ctx, `
			UPDATE credentials SET status = 'revoked', revoked_at = $2, grace_end_pending = false
			WHERE agent_id = $1 AND status = 'active' RETURNING credential_id`, a.ID, at)
		if err != nil {
			return err
		}
		if revoked, err = pgx.CollectRows(rows, pgx.RowTo[uuid.UUID]); err != nil {
			return err
		}
		for _, id := range revoked {
			if err := appendEvent(credential.WithOwner(ctx, a.Owner), tx, credential.EventRevoked, id, a.ID, at); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, dbErr("apply agent event", err)
	}
	return revoked, nil
}

// ProjectedAgent returns the projection's agent, or nil.
func (s *Store) ProjectedAgent(ctx context.Context, id uuid.UUID) (*credential.Agent, error) {
	a := credential.Agent{ID: id}
	err := s.pool.QueryRow(ctx, `SELECT status, scopes, owner FROM agents WHERE agent_id = $1`, id).Scan(&a.Status, &a.Scopes, &a.Owner)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, dbErr("read agent", err)
	}
	return &a, nil
}

// TouchLastUsed records last uses in one statement (never moving backwards).
func (s *Store) TouchLastUsed(ctx context.Context, ids []uuid.UUID, at []time.Time) error {
	_, err := s.pool.Exec(ctx, `
		UPDATE credentials c SET last_used_at = u.at
		FROM unnest($1::uuid[], $2::timestamptz[]) AS u(id, at)
		WHERE c.credential_id = u.id AND (c.last_used_at IS NULL OR c.last_used_at < u.at)`, ids, at)
	return dbErr("record last use", err)
}
