// Package postgres stores the registry's agents in PostgreSQL (pgx/v5).
package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sentryagent/agentidp/libs/postgres"

	"github.com/sentryagent/agentidp/services/registry/internal/agent"
)

// Store implements agent.Store.
type Store struct {
	pool   *pgxpool.Pool
	notify *postgres.Notifications
}

var _ agent.Store = (*Store)(nil)

// New returns a store over a migrated database.
func New(pool *pgxpool.Pool) *Store {
	return &Store{pool: pool, notify: &postgres.Notifications{Pool: pool, Channel: notifyChannel}}
}

// prefixed qualifies every column with a table alias.
func prefixed(alias string) string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		cols[i] = alias + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}

const columns = `agent_id, name, description, agent_type, version, owner, capabilities, scopes,
	deployment_env, metadata, status, revision, created_at, updated_at, decommissioned_at, suspended_at`

// scoped appends the owner predicate of scope to where.
func scoped(scope agent.Scope, where []string, arg func(any) string) []string {
	if scope.Confined {
		where = append(where, "owner = "+arg(scope.Owner))
	}
	return where
}

// Create inserts a, or returns the agent an earlier call with the same
// requestID created.
func (s *Store) Create(ctx context.Context, a agent.Agent, requestID string) (agent.Agent, bool, error) {
	var reqID *string
	if requestID != "" {
		reqID = &requestID
	}
	var stored agent.Agent
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		stored, err = scan(tx.QueryRow(ctx, `
			INSERT INTO agents (`+columns+`, create_request_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
			ON CONFLICT (owner, create_request_id) DO NOTHING
			RETURNING `+columns,
			a.ID, a.Name, a.Description, a.AgentType, a.Version, a.Owner, list(a.Capabilities), list(a.Scopes),
			a.DeploymentEnv, labels(a.Metadata), a.Status, a.Revision, a.CreatedAt, a.UpdatedAt, a.DecommissionedAt,
			a.SuspendedAt, reqID))
		if err != nil {
			return err
		}
		return appendEvent(ctx, tx, stored.ID, agent.EventRegistered, stored.CreatedAt)
	})
	if errors.Is(err, pgx.ErrNoRows) && reqID != nil {
		// Another call already created the agent for this request id (in
		// this owner: keys are per owner).
		existing, err := scan(s.pool.QueryRow(ctx, `SELECT `+columns+` FROM agents WHERE owner = $1 AND create_request_id = $2`,
			a.Owner, requestID))
		if err != nil {
			return agent.Agent{}, false, fmt.Errorf("read agent by request id: %w", err)
		}
		return existing, false, nil
	}
	if err != nil {
		return agent.Agent{}, false, fmt.Errorf("insert agent: %w", err)
	}
	return stored, true, nil
}

// Get returns agent.ErrNotFound for an unknown id or an agent outside scope.
func (s *Store) Get(ctx context.Context, id uuid.UUID, scope agent.Scope) (agent.Agent, error) {
	var row pgx.Row
	if scope.Confined {
		row = s.pool.QueryRow(ctx, `SELECT `+columns+` FROM agents WHERE agent_id = $1 AND owner = $2`, pgUUID(id), scope.Owner)
	} else {
		row = s.pool.QueryRow(ctx, `SELECT `+columns+` FROM agents WHERE agent_id = $1`, pgUUID(id))
	}
	a, err := scan(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return agent.Agent{}, agent.ErrNotFound.WithMessage("agent %s not found", id)
	}
	if err != nil {
		return agent.Agent{}, fmt.Errorf("get agent: %w", err)
	}
	return a, nil
}

// List returns up to limit agents within scope matching f whose id is after
// the given one.
func (s *Store) List(ctx context.Context, scope agent.Scope, f agent.Filter, after uuid.UUID, limit int) ([]agent.Agent, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	where = scoped(scope, where, arg)
	if after != uuid.Nil {
		where = append(where, "agent_id > "+arg(after))
	}
	if f.Status != "" {
		where = append(where, "status = "+arg(string(f.Status)))
	}
	if f.Owner != "" {
		where = append(where, "owner = "+arg(f.Owner))
	}
	if f.AgentType != "" {
		where = append(where, "agent_type = "+arg(f.AgentType))
	}
	if f.Search != "" {
		where = append(where, `lower(name) LIKE `+arg("%"+escapeLike(strings.ToLower(f.Search))+"%")+` ESCAPE '\'`)
	}
	query := `SELECT ` + columns + ` FROM agents`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY agent_id LIMIT " + arg(limit)
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	defer rows.Close()
	var out []agent.Agent
	for rows.Next() {
		a, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("list agents: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	return out, nil
}

// Update locks the row (SELECT ... FOR UPDATE), lets mutate change it, and
// writes it back with the next revision, all in one transaction.
func (s *Store) Update(ctx context.Context, id uuid.UUID, scope agent.Scope, mutate func(*agent.Agent) (bool, error)) (agent.Agent, error) {
	var out agent.Agent
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var row pgx.Row
		if scope.Confined {
			row = tx.QueryRow(ctx, `SELECT `+columns+` FROM agents WHERE agent_id = $1 AND owner = $2 FOR UPDATE`, id, scope.Owner)
		} else {
			row = tx.QueryRow(ctx, `SELECT `+columns+` FROM agents WHERE agent_id = $1 FOR UPDATE`, id)
		}
		a, err := scan(row)
		if errors.Is(err, pgx.ErrNoRows) {
			return agent.ErrNotFound.WithMessage("agent %s not found", id)
		}
		if err != nil {
			return fmt.Errorf("lock agent: %w", err)
		}
		before := a
		changed, err := mutate(&a)
		if err != nil {
			return err
		}
		if !changed {
			out = a
			return nil
		}
		out, err = scan(tx.QueryRow(ctx, `
			UPDATE agents SET name = $2, description = $3, agent_type = $4, version = $5, owner = $6,
				capabilities = $7, scopes = $8, deployment_env = $9, metadata = $10, status = $11,
				revision = revision + 1, updated_at = $12, decommissioned_at = $13, suspended_at = $14
			WHERE agent_id = $1
			RETURNING `+columns,
			a.ID, a.Name, a.Description, a.AgentType, a.Version, a.Owner, list(a.Capabilities), list(a.Scopes),
			a.DeploymentEnv, labels(a.Metadata), a.Status, a.UpdatedAt, a.DecommissionedAt, a.SuspendedAt))
		if err != nil {
			return fmt.Errorf("update agent: %w", err)
		}
		return appendEvent(ctx, tx, out.ID, agent.ChangeType(before, out), out.UpdatedAt)
	})
	return out, err
}

// list and labels store nil as empty (the columns are NOT NULL).
func list(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func labels(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// pgUUID passes an id as PostgreSQL's uuid in binary: a uuid.UUID goes
// through its driver.Valuer (a string, after a failed encode attempt that
// allocates an error), which showed in the registry's CPU profile of the
// gateway's GetAgent hot path (docs/authz.md, "Performance").
func pgUUID(id uuid.UUID) pgtype.UUID { return pgtype.UUID{Bytes: id, Valid: true} }

func scan(row pgx.Row) (agent.Agent, error) { return scanWith(row) }

// scanWith scans leading extra columns into extra, then an agent.
func scanWith(row pgx.Row, extra ...any) (agent.Agent, error) {
	var a agent.Agent
	var status string
	dst := append(extra, &a.ID, &a.Name, &a.Description, &a.AgentType, &a.Version, &a.Owner,
		&a.Capabilities, &a.Scopes, &a.DeploymentEnv, &a.Metadata, &status, &a.Revision,
		&a.CreatedAt, &a.UpdatedAt, &a.DecommissionedAt, &a.SuspendedAt)
	err := row.Scan(dst...)
	if err != nil {
		return agent.Agent{}, err
	}
	a.Status = agent.Status(status)
	a.CreatedAt, a.UpdatedAt = a.CreatedAt.UTC(), a.UpdatedAt.UTC()
	for _, t := range []**time.Time{&a.DecommissionedAt, &a.SuspendedAt} {
		if *t != nil {
			u := (*t).UTC()
			*t = &u
		}
	}
	return a, nil
}

// escapeLike escapes LIKE's wildcards so a search matches literally.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
