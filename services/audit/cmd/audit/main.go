// Command audit serves the audit log: agentidp.audit.v1.AuditService and
// AuditIngestService over gRPC, plus /metrics, /healthz and /readyz over
// HTTP, while it ingests the registry's and the credentials service's change
// feeds and the Redis stream. `audit verify` checks the hash chain.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/sentryagent/agentidp/libs/config"
	auditv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/audit/v1"
	credentialsv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/credentials/v1"
	registryv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/registry/v1"
	"github.com/sentryagent/agentidp/libs/grpcclient"
	"github.com/sentryagent/agentidp/libs/grpcserver"
	"github.com/sentryagent/agentidp/libs/health"
	"github.com/sentryagent/agentidp/libs/logging"
	"github.com/sentryagent/agentidp/libs/metrics"
	"github.com/sentryagent/agentidp/libs/postgres"
	"github.com/sentryagent/agentidp/libs/redisclient"
	"github.com/sentryagent/agentidp/libs/serve"
	"github.com/sentryagent/agentidp/services/audit/internal/audit"
	"github.com/sentryagent/agentidp/services/audit/internal/endpoints"
	"github.com/sentryagent/agentidp/services/audit/internal/ingest"
	"github.com/sentryagent/agentidp/services/audit/internal/retention"
	pgstore "github.com/sentryagent/agentidp/services/audit/internal/store/postgres"
	grpctransport "github.com/sentryagent/agentidp/services/audit/internal/transport/grpc"
	"github.com/sentryagent/agentidp/services/audit/migrations"
)

// Disabled, as REGISTRY_ADDR or CREDENTIALS_ADDR, turns that feed off.
const Disabled = "off"

// Config is read from the environment.
type Config struct {
	config.Common
	// GRPCAddr serves AuditService, AuditIngestService and grpc.health.v1.
	GRPCAddr string `env:"GRPC_ADDR" envDefault:"127.0.0.1:9104"`
	// HTTPAddr serves /metrics, /healthz and /readyz.
	HTTPAddr string `env:"HTTP_ADDR" envDefault:"127.0.0.1:9204"`
	// DatabaseURL is the audit service's own PostgreSQL database. Its user
	// runs the migrations; queries then run as the restricted role.
	DatabaseURL string `env:"DATABASE_URL,required"`
	DBMaxConns  int32  `env:"DB_MAX_CONNS" envDefault:"0"`
	// RegistryAddr and CredentialsAddr are the feeds to follow ("off": none).
	RegistryAddr    string `env:"REGISTRY_ADDR" envDefault:"127.0.0.1:9101"`
	CredentialsAddr string `env:"CREDENTIALS_ADDR" envDefault:"127.0.0.1:9102"`
	// RedisURL holds the audit stream that token and authz write to.
	RedisURL       string `env:"REDIS_URL,required"`
	Stream         string `env:"AUDIT_STREAM" envDefault:"agentidp:audit"`
	StreamGroup    string `env:"AUDIT_STREAM_GROUP" envDefault:"audit"`
	StreamConsumer string `env:"AUDIT_STREAM_CONSUMER"` // default: the host name
	// StreamClaimIdle: entries another consumer left unacknowledged this long are taken over.
	StreamClaimIdle time.Duration `env:"AUDIT_STREAM_CLAIM_IDLE" envDefault:"30s"`
	// StreamLinger: a small read waits this long for more entries before
	// they are stored (larger transactions; negative: never waits).
	StreamLinger time.Duration `env:"AUDIT_STREAM_LINGER" envDefault:"20ms"`
	// RetentionDays keeps events at least this long (0: forever); whole
	// months are dropped once entirely older.
	RetentionDays int `env:"RETENTION_DAYS" envDefault:"365"`
	// MaintenanceInterval: how often partitions are created and retention applied.
	MaintenanceInterval time.Duration `env:"MAINTENANCE_INTERVAL" envDefault:"1h"`
	// PartitionsAhead: months of partitions created beyond the current one.
	PartitionsAhead int `env:"PARTITIONS_AHEAD" envDefault:"2"`
}

// Validate checks what parsing cannot.
func (c Config) Validate() error {
	if err := c.Common.Validate(); err != nil {
		return err
	}
	for _, a := range []struct{ name, addr string }{
		{"GRPC_ADDR", c.GRPCAddr}, {"HTTP_ADDR", c.HTTPAddr},
		{"REGISTRY_ADDR", c.RegistryAddr}, {"CREDENTIALS_ADDR", c.CredentialsAddr},
	} {
		if a.addr == Disabled && a.name != "GRPC_ADDR" && a.name != "HTTP_ADDR" {
			continue
		}
		if err := config.CheckAddr(a.name, a.addr); err != nil {
			return err
		}
	}
	switch {
	case c.DBMaxConns < 0:
		return errors.New("DB_MAX_CONNS: must not be negative")
	case c.Stream == "" || c.StreamGroup == "":
		return errors.New("AUDIT_STREAM, AUDIT_STREAM_GROUP: must not be empty")
	case c.StreamClaimIdle <= 0:
		return errors.New("AUDIT_STREAM_CLAIM_IDLE: must be positive")
	case c.RetentionDays < 0:
		return errors.New("RETENTION_DAYS: must not be negative (0 keeps events forever)")
	case c.MaintenanceInterval <= 0:
		return errors.New("MAINTENANCE_INTERVAL: must be positive")
	case c.PartitionsAhead < 1 || c.PartitionsAhead > 24:
		return errors.New("PARTITIONS_AHEAD: must be between 1 and 24")
	}
	return nil
}

// VerifyConfig is what `audit verify` needs.
type VerifyConfig struct {
	config.Common
	DatabaseURL string `env:"DATABASE_URL,required"`
}

func main() {
	var err error
	code := 1
	if len(os.Args) > 1 && os.Args[1] == "verify" {
		code, err = verify(os.Args[2:])
	} else if len(os.Args) > 1 && os.Args[1] != "serve" {
		err = fmt.Errorf("unknown command %q (usage: audit [serve] | audit verify [-from N] [-to N])", os.Args[1])
	} else {
		err = run()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "audit:", err)
		os.Exit(1)
	}
	if code != 0 && len(os.Args) > 1 && os.Args[1] == "verify" {
		os.Exit(code)
	}
}

func run() error {
	cfg, err := config.Load[Config]()
	if err != nil {
		return err
	}
	logger := logging.New("audit", cfg.LogLevel, cfg.LogFormat)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	reg := metrics.NewRegistry()

	// Migrate as the database's owner, then work as the restricted role.
	if err := migrate(ctx, cfg.DatabaseURL); err != nil {
		return err
	}
	roleURL, err := pgstore.RoleURL(cfg.DatabaseURL)
	if err != nil {
		return err
	}
	pool, err := postgres.Open(ctx, postgres.Config{URL: roleURL, MaxConns: cfg.DBMaxConns}, metrics.NewStore(reg))
	if err != nil {
		return err
	}
	defer pool.Close()
	rdb, err := redisclient.Open(ctx, cfg.RedisURL, metrics.NewStore(reg))
	if err != nil {
		return err
	}
	defer rdb.Close()

	// store → service → endpoints → transport
	store := pgstore.New(pool)
	store.PartitionsAhead = cfg.PartitionsAhead
	m := audit.NewMetrics(reg)
	svc := audit.NewService(audit.Config{Store: store, Metrics: m})
	set := endpoints.New(svc)
	grpcSrv, healthSrv := grpcserver.New(grpcserver.Config{Logger: logger, Metrics: metrics.NewGRPC(reg), MaxRecvMsgSize: 8 << 20,
		// A lost database is a 503 the client may retry, not a 500.
		Unavailable: postgres.Unavailable})
	auditv1.RegisterAuditServiceServer(grpcSrv, grpctransport.NewServer(set))
	auditv1.RegisterAuditIngestServiceServer(grpcSrv, grpctransport.NewIngestServer(set))

	maint := retention.New(retention.Config{
		Store: store, Retention: time.Duration(cfg.RetentionDays) * 24 * time.Hour,
		Every: cfg.MaintenanceInterval, Ahead: cfg.PartitionsAhead, Logger: logger,
		Dropped: func(d []pgstore.Dropped) { m.Ingested.WithLabelValues("retention").Add(float64(len(d))) },
	})
	// The partitions for now must exist before the first append.
	if _, err := store.EnsurePartitions(ctx, time.Now(), cfg.PartitionsAhead); err != nil {
		return err
	}

	sink := ingest.NewSink(svc, logger, reg)
	consumer := cfg.StreamConsumer
	if consumer == "" {
		if consumer, err = os.Hostname(); err != nil || consumer == "" {
			consumer = "audit"
		}
	}
	gm := metrics.NewGRPC(reg)
	var registryConn, credentialsConn interface{ Close() error }

	checker := health.NewChecker(healthSrv, logger)
	checker.Add("postgres", pool.Ping)
	checker.Add("redis", func(ctx context.Context) error { return rdb.Ping(ctx).Err() })
	httpSrv := serve.NewHTTPServer(metrics.NewHTTP(reg).Middleware(serve.AdminMux(reg, checker, serve.WithProfiling(cfg.Pprof))), logger)

	grpcLis, err := net.Listen("tcp", cfg.GRPCAddr)
	if err != nil {
		return fmt.Errorf("GRPC_ADDR: %w", err)
	}
	httpLis, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		grpcLis.Close()
		return fmt.Errorf("HTTP_ADDR: %w", err)
	}
	logger.Info("audit started", "grpc", grpcLis.Addr().String(), "http", httpLis.Addr().String())

	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return checker.Run(ctx) })
	g.Go(func() error { return maint.Run(ctx) })
	g.Go(func() error { return serve.GRPC(ctx, grpcSrv, grpcLis, cfg.ShutdownTimeout) })
	g.Go(func() error { return serve.HTTP(ctx, httpSrv, httpLis, cfg.ShutdownTimeout) })
	if cfg.RegistryAddr != Disabled {
		conn, err := grpcclient.Dial(cfg.RegistryAddr, grpcclient.Config{Name: "registry", Metrics: gm})
		if err != nil {
			return err
		}
		registryConn = conn
		client := registryv1.NewAgentEventsServiceClient(conn)
		cursor := postgres.FeedCursor{Pool: pool, Consumer: ingest.RegistryFeed}
		g.Go(func() error { return sink.FollowRegistry(ctx, client, cursor) })
	}
	if cfg.CredentialsAddr != Disabled {
		conn, err := grpcclient.Dial(cfg.CredentialsAddr, grpcclient.Config{Name: "credentials", Metrics: gm})
		if err != nil {
			return err
		}
		credentialsConn = conn
		client := credentialsv1.NewCredentialEventsServiceClient(conn)
		cursor := postgres.FeedCursor{Pool: pool, Consumer: ingest.CredentialsFeed}
		g.Go(func() error { return sink.FollowCredentials(ctx, client, cursor) })
	}
	g.Go(func() error {
		return sink.ConsumeStream(ctx, rdb, ingest.StreamConfig{Stream: cfg.Stream, Group: cfg.StreamGroup,
			Consumer: consumer, ClaimIdle: cfg.StreamClaimIdle, Linger: cfg.StreamLinger, Registerer: reg})
	})
	err = g.Wait()
	for _, c := range []interface{ Close() error }{registryConn, credentialsConn} {
		if c != nil {
			c.Close()
		}
	}
	logger.Info("audit stopped")
	return err
}

// migrate applies the migrations over a short-lived pool of the owner.
func migrate(ctx context.Context, databaseURL string) error {
	admin, err := postgres.Open(ctx, postgres.Config{URL: databaseURL, MaxConns: 2}, nil)
	if err != nil {
		return err
	}
	defer admin.Close()
	return postgres.Migrate(ctx, admin, migrations.FS)
}

// verify runs `audit verify`: it prints the result as JSON and returns exit
// code 0 when the chain is intact, 2 when it is broken.
func verify(args []string) (int, error) {
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	from := fs.Int64("from", 0, "first sequence to check (default: the oldest kept)")
	to := fs.Int64("to", 0, "last sequence to check (default: the newest, and the head is checked too)")
	if err := fs.Parse(args); err != nil {
		return 1, err
	}
	cfg, err := config.Load[VerifyConfig]()
	if err != nil {
		return 1, err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	roleURL, err := pgstore.RoleURL(cfg.DatabaseURL)
	if err != nil {
		return 1, err
	}
	pool, err := postgres.Open(ctx, postgres.Config{URL: roleURL, MaxConns: 2}, nil)
	if err != nil {
		return 1, err
	}
	defer pool.Close()
	var r audit.Range
	if *from != 0 {
		r.From = from
	}
	if *to != 0 {
		r.To = to
	}
	v, err := audit.Verify(ctx, pgstore.New(pool), r)
	if err != nil {
		return 1, err
	}
	raw, _ := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(grpctransport.VerificationToProto(v))
	var out bytes.Buffer
	_ = json.Indent(&out, raw, "", "  ") // stable spacing (protojson varies it on purpose)
	fmt.Println(out.String())
	if !v.OK {
		return 2, nil
	}
	return 0, nil
}
