package postgres

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sentryagent/agentidp/libs/metrics"
)

// ErrNotConfined: the service's login could act as the owner of its tables
// (docs/architecture.md, "Database roles").
var ErrNotConfined = errors.New("DATABASE_URL: the service's login role can become the owner of its tables")

// CheckConfined fails unless the pool's login (session_user) is confined
// to the privileges it was granted: not a superuser, without CREATEROLE or
// BYPASSRLS, not the owner of table and not a member of the owner's role
// by any path. A confined session cannot `SET ROLE NONE`, `RESET ROLE` or
// `SET ROLE <owner>` its way to ALTER TABLE, DISABLE TRIGGER or a
// rewrite: session_user is the ceiling.
func CheckConfined(ctx context.Context, pool *pgxpool.Pool, table string) error {
	var login, owner string
	var super, createRole, bypassRLS, member bool
	err := pool.QueryRow(ctx, `SELECT session_user, o.rolname, r.rolsuper, r.rolcreaterole, r.rolbypassrls,
			pg_has_role(session_user, c.relowner, 'MEMBER')
		FROM pg_class c JOIN pg_roles o ON o.oid = c.relowner JOIN pg_roles r ON r.rolname = session_user
		WHERE c.oid = to_regclass($1)`, table).Scan(&login, &owner, &super, &createRole, &bypassRLS, &member)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("check the login role: table %s not found", table)
	}
	if err != nil {
		return fmt.Errorf("check the login role: %w", err)
	}
	switch {
	case super:
		return fmt.Errorf("%w: %q is a superuser", ErrNotConfined, login)
	case createRole:
		return fmt.Errorf("%w: %q has CREATEROLE", ErrNotConfined, login)
	case bypassRLS:
		return fmt.Errorf("%w: %q has BYPASSRLS", ErrNotConfined, login)
	case member:
		return fmt.Errorf("%w: %q is (a member of) %q, the owner of %s", ErrNotConfined, login, owner, table)
	}
	return nil
}

// LoginUser is the user name a database URL or DSN logs in as ("" when it
// names none, and the driver falls back to the OS user).
func LoginUser(databaseURL string) (string, error) {
	if strings.HasPrefix(databaseURL, "postgres://") || strings.HasPrefix(databaseURL, "postgresql://") {
		u, err := url.Parse(databaseURL)
		if err != nil {
			return "", errors.New("the database URL is malformed")
		}
		return u.User.Username(), nil
	}
	cfg, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		return "", errors.New("the database URL is malformed")
	}
	return cfg.User, nil
}

// GrantRole grants role to user over pool (the owner's): the migrations
// create the NOLOGIN role a service works as, and the owner makes the
// service's login a member of it. Granting twice is harmless.
func GrantRole(ctx context.Context, pool *pgxpool.Pool, role, user string) error {
	if _, err := pool.Exec(ctx, "GRANT "+pgx.Identifier{role}.Sanitize()+" TO "+pgx.Identifier{user}.Sanitize()); err != nil {
		return fmt.Errorf("grant %s to %s: %w", role, user, err)
	}
	return nil
}

// MigrateFor applies fsys over a short-lived pool of the owner (ownerURL)
// and makes the user of loginURL a member of role, which the migrations
// create: the service then works as a login that is not the owner.
func MigrateFor(ctx context.Context, ownerURL, loginURL string, fsys fs.FS, role string) error {
	owner, err := Open(ctx, Config{URL: ownerURL, MaxConns: 2}, nil)
	if err != nil {
		return fmt.Errorf("MIGRATE_DATABASE_URL: %w", err)
	}
	defer owner.Close()
	if err := Migrate(ctx, owner, fsys); err != nil {
		return err
	}
	login, err := LoginUser(loginURL)
	if err != nil || login == "" {
		return errors.New("DATABASE_URL: name the service's login role (user) explicitly")
	}
	return GrantRole(ctx, owner, role, login)
}

// ServiceDatabase is a service's database as its Config names it.
type ServiceDatabase struct {
	Config // URL: DATABASE_URL, the service's login
	// MigrateURL (MIGRATE_DATABASE_URL) is the owner's: it migrates and
	// grants WriterRole to the login, which must then be confined (checked
	// on Table). Empty: the login is the owner and migrates itself
	// (development and single-user databases).
	MigrateURL string
	Migrations fs.FS
	WriterRole string
	Table      string
}

// OpenService migrates the database and opens the service's pool, the one
// way registry and credentials do it (docs/architecture.md, "Database
// roles"). The caller closes the pool.
func OpenService(ctx context.Context, db ServiceDatabase, store *metrics.Store) (*pgxpool.Pool, error) {
	if db.MigrateURL != "" {
		if err := MigrateFor(ctx, db.MigrateURL, db.URL, db.Migrations, db.WriterRole); err != nil {
			return nil, err
		}
	}
	pool, err := Open(ctx, db.Config, store)
	if err != nil {
		return nil, err
	}
	if db.MigrateURL != "" {
		err = CheckConfined(ctx, pool, db.Table)
	} else {
		err = Migrate(ctx, pool, db.Migrations)
	}
	if err != nil {
		pool.Close()
		return nil, err
	}
	return pool, nil
}
