// Package postgres opens instrumented pgx/v5 connection pools and applies a
// service's embedded, numbered SQL migrations (with goose).
package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sentryagent/agentidp/libs/metrics"
)

// Config describes a pool.
type Config struct {
	// URL is a PostgreSQL connection URL or DSN.
	URL string
	// MaxConns caps the pool; 0 keeps pgx's default (max(4, NumCPU)).
	MaxConns int32
	// ConnectTimeout bounds the first connection; default 10s.
	ConnectTimeout time.Duration
}

// Open connects a pool and pings it, so a wrong URL fails at start-up.
// Query latency is observed in agentidp_db_query_duration_seconds when
// store is not nil.
func Open(ctx context.Context, cfg Config, store *metrics.Store) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		// pgx's message may quote the URL, password included: keep it out.
		return nil, fmt.Errorf("postgres: the database URL is malformed")
	}
	if cfg.MaxConns > 0 {
		pc.MaxConns = cfg.MaxConns
	}
	if store != nil {
		pc.ConnConfig.Tracer = &tracer{hist: store}
	}
	timeout := cfg.ConnectTimeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: cannot reach %s:%d: %w", pc.ConnConfig.Host, pc.ConnConfig.Port, err)
	}
	return pool, nil
}

// InTx runs fn in a transaction, committing when it returns nil and rolling
// back otherwise.
func InTx(ctx context.Context, pool *pgxpool.Pool, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, pool, fn)
}

type startKey struct{}

type queryStart struct {
	at time.Time
	op string
}

// tracer observes the latency of every query, labelled by SQL verb only.
type tracer struct{ hist *metrics.Store }

func (t *tracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	return context.WithValue(ctx, startKey{}, queryStart{at: time.Now(), op: operation(data.SQL)})
}

func (t *tracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryEndData) {
	if s, ok := ctx.Value(startKey{}).(queryStart); ok {
		t.hist.DBQuery.WithLabelValues(s.op).Observe(time.Since(s.at).Seconds())
	}
}

// operation returns the statement's leading SQL keyword, upper-cased, from a
// small known set (anything else is "OTHER"), so labels stay bounded.
func operation(sql string) string {
	sql = strings.TrimLeft(sql, " \t\r\n(")
	for strings.HasPrefix(sql, "--") {
		if i := strings.IndexByte(sql, '\n'); i >= 0 {
			sql = strings.TrimLeft(sql[i+1:], " \t\r\n(")
		} else {
			return "OTHER"
		}
	}
	end := strings.IndexAny(sql, " \t\r\n")
	if end < 0 {
		end = len(sql)
	}
	switch op := strings.ToUpper(sql[:end]); op {
	case "SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "BEGIN", "COMMIT", "ROLLBACK":
		return op
	}
	return "OTHER"
}
