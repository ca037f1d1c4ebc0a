package testkit

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Postgres is a PostgreSQL server run from the Debian package's binaries.
type Postgres struct {
	Dir  string // data directory
	Port int
	proc *Process
	cfg  PostgresConfig // for Restart
}

// PostgresConfig describes a server to start.
type PostgresConfig struct {
	// Dir is the data directory; it is created and initialised (initdb) when
	// it holds no cluster yet, and reused otherwise.
	Dir string
	// Port on 127.0.0.1; 0 picks a free one.
	Port int
	// LogPath receives the server's output; empty means Dir/postgres.log.
	LogPath string
	// Durable keeps fsync on (the dev stack); tests turn it off for speed.
	Durable bool
}

// PostgresBinDir finds the PostgreSQL server binaries: $AGENTIDP_PG_BIN, or
// the newest /usr/lib/postgresql/<version>/bin.
func PostgresBinDir() (string, error) {
	if d := os.Getenv("AGENTIDP_PG_BIN"); d != "" {
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgVersion(dirs[i]) > pgVersion(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("PostgreSQL server binaries not found (install the Debian package postgresql, or set AGENTIDP_PG_BIN)")
}

func pgVersion(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// StartPostgres initialises (if needed) and starts a server, waiting until
// it accepts connections. PostgreSQL refuses to run as root, so as root the
// server runs as the "postgres" system user, which must own Dir.
func StartPostgres(ctx context.Context, cfg PostgresConfig) (*Postgres, error) {
	bin, err := PostgresBinDir()
	if err != nil {
		return nil, err
	}
	if cfg.Port == 0 {
		if cfg.Port, err = FreePort(); err != nil {
			return nil, err
		}
	}
	if cfg.LogPath == "" {
		cfg.LogPath = filepath.Join(cfg.Dir, "postgres.log")
	}
	cred, err := postgresCredential()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, err
	}
	pgdata := filepath.Join(cfg.Dir, "data")
	sockets := filepath.Join(cfg.Dir, "run")
	for _, d := range []string{pgdata, sockets} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	if cred != nil {
		if err := chownTree(cfg.Dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
	}
	if _, err := os.Stat(filepath.Join(pgdata, "PG_VERSION")); err != nil {
		initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"),
			"-D", pgdata, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8",
			"--no-sync", "--no-instructions")
		initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		initdb.Dir = cfg.Dir
		if out, err := initdb.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("initdb: %w: %s", err, out)
		}
	}
	args := []string{"-D", pgdata, "-h", "127.0.0.1", "-p", strconv.Itoa(cfg.Port), "-k", sockets,
		"-c", "max_connections=200", "-c", "shared_buffers=64MB"}
	if !cfg.Durable {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	if cred != nil {
		// The log file must be writable by the server's user.
		f, err := os.OpenFile(cfg.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err == nil {
			f.Close()
			_ = os.Chown(cfg.LogPath, int(cred.Uid), int(cred.Gid))
		}
	}
	cmd := exec.Command(filepath.Join(bin, "postgres"), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	cmd.Dir = cfg.Dir
	proc, err := StartProcess(cmd, cfg.LogPath)
	if err != nil {
		return nil, err
	}
	pg := &Postgres{Dir: cfg.Dir, Port: cfg.Port, proc: proc, cfg: cfg}
	if err := pg.waitReady(ctx, 30*time.Second); err != nil {
		pg.Stop()
		log, _ := os.ReadFile(cfg.LogPath)
		return nil, fmt.Errorf("postgres did not start: %w\n%s", err, tail(string(log), 2000))
	}
	return pg, nil
}

func (p *Postgres) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-p.proc.Done():
			return fmt.Errorf("server exited: %v", p.proc.Err())
		default:
		}
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		conn, err := pgx.Connect(cctx, p.URL("postgres"))
		cancel()
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// URL returns a connection URL for database db.
func (p *Postgres) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.Port, db)
}

// CreateDatabase creates database name if it does not exist and returns its URL.
func (p *Postgres) CreateDatabase(ctx context.Context, name string) (string, error) {
	conn, err := pgx.Connect(ctx, p.URL("postgres"))
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", err
	}
	if !exists {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
			return "", err
		}
	}
	return p.URL(name), nil
}

// Stop shuts the server down (fast mode) and waits for it.
func (p *Postgres) Stop() {
	if p != nil {
		p.proc.Stop(syscall.SIGINT, 10*time.Second)
	}
}

// PID is the server's process id (resource reports read /proc/PID).
func (p *Postgres) PID() int {
	if p == nil {
		return 0
	}
	return p.proc.PID()
}

// Done is closed when the server process exits.
func (p *Postgres) Done() <-chan struct{} { return p.proc.Done() }

// Kill ends the server and its backends at once (SIGKILL to the process
// group), as a crash would (fault-injection tests).
func (p *Postgres) Kill() {
	if p != nil {
		p.proc.Stop(syscall.SIGKILL, time.Second)
	}
}

// Restart starts a stopped or killed server again on the same port and data
// directory; after a Kill it runs crash recovery first.
func (p *Postgres) Restart(ctx context.Context) error {
	np, err := StartPostgres(ctx, p.cfg)
	if err != nil {
		return err
	}
	p.proc = np.proc
	return nil
}

// postgresCredential returns the credential to run the server with: nil
// when we are not root, the "postgres" user's otherwise.
func postgresCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, errors.New(`running as root, and PostgreSQL refuses to: the "postgres" system user (created by the Debian package) is missing`)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

func chownTree(dir string, uid, gid int) error {
	return filepath.Walk(dir, func(path string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, gid)
	})
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return strings.TrimSpace(s)
}

// CreateLoginRole creates role as a plain LOGIN role (not a superuser, no
// CREATEROLE, member of nothing) if it does not exist yet, over the
// superuser URL dbURL, and returns dbURL with role as its user: the
// confined login a service works as while its owner migrates (local
// servers trust 127.0.0.1, so no password). Roles belong to the cluster:
// every database of the server shares it.
func CreateLoginRole(ctx context.Context, dbURL, role string) (string, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	// Concurrent creators (two services starting at once) race on the
	// catalog: the loser's duplicate is harmless.
	_, err = conn.Exec(ctx, `DO $$ BEGIN
		IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = `+quoteLiteral(role)+`) THEN
			CREATE ROLE `+pgx.Identifier{role}.Sanitize()+` LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
		END IF;
	EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
	END $$`)
	if err != nil {
		return "", fmt.Errorf("create login role %s: %w", role, err)
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		return "", err
	}
	u.User = url.User(role)
	return u.String(), nil
}

// LoginRoleURL is CreateLoginRole for tests.
func LoginRoleURL(t testing.TB, dbURL, role string) string {
	t.Helper()
	u, err := CreateLoginRole(context.Background(), dbURL, role)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// AssertRefused runs each statement on a fresh connection of dbURL (a
// confined login) and fails t unless PostgreSQL refuses it with
// insufficient_privilege (42501): what a service's login must not be able
// to do, whatever role it sets first.
func AssertRefused(t testing.TB, dbURL string, statements ...string) {
	t.Helper()
	ctx := context.Background()
	for _, sql := range statements {
		conn, err := pgx.Connect(ctx, dbURL)
		if err != nil {
			t.Fatal(err)
		}
		_, err = conn.Exec(ctx, sql)
		conn.Close(ctx)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
			login := "the login"
			if u, perr := url.Parse(dbURL); perr == nil {
				login = u.Redacted()
			}
			t.Errorf("%q as %s: %v, want permission denied (42501)", sql, login, err)
		}
	}
}
