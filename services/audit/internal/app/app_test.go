package app_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/sentryagent/agentidp/libs/auditlog"
	"github.com/sentryagent/agentidp/libs/config"
	auditv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/audit/v1"
	"github.com/sentryagent/agentidp/libs/postgres"
	"github.com/sentryagent/agentidp/libs/testkit"
	"github.com/sentryagent/agentidp/services/audit/internal/app"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// TestRun: with both feeds off, New migrates and binds, Run becomes ready
// and stores what arrives on the Redis stream, and once its context ends
// Run returns nil with both listeners closed. cmd/audit's acceptance test
// runs the binary with every source.
func TestRun(t *testing.T) {
	testkit.SkipIfShort(t)
	redisURL := testkit.NewRedisURL(t)
	cfg, err := config.LoadFrom[app.Config](map[string]string{"AGENTIDP_INSECURE_PLAINTEXT": "true", "DATABASE_URL": testkit.NewDatabase(t), "REDIS_URL": redisURL,
		"GRPC_ADDR": "127.0.0.1:0", "HTTP_ADDR": "127.0.0.1:0", "SHUTDOWN_TIMEOUT": "2s",
		"REGISTRY_ADDR": app.Disabled, "CREDENTIALS_ADDR": app.Disabled, "AUDIT_STREAM_CONSUMER": "audit-test"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := app.New(ctx, cfg, app.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	grpcAddr, httpAddr := a.Addrs()
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	waitReady(t, "http://"+httpAddr.String()+"/readyz")

	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	emitter := auditlog.NewRedisEmitter(rdb, auditlog.RedisOptions{})
	ev := auditlog.Event{ID: auditlog.NewID(), Actor: auditlog.ActorSystem, Action: auditlog.ActionPolicyReloaded,
		Target: "policy:test", Outcome: auditlog.OutcomeSuccess}
	if err := emitter.Emit(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if err := emitter.Close(ctx); err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(grpcAddr.String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := auditv1.NewAuditServiceClient(conn)
	eventually(t, func() error {
		_, err := client.GetAuditEvent(ctx, &auditv1.GetAuditEventRequest{EventId: ev.ID.String()})
		return err
	})

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	for _, addr := range []net.Addr{grpcAddr, httpAddr} {
		if c, err := net.DialTimeout("tcp", addr.String(), time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after Run", addr)
		}
	}
}

func waitReady(t *testing.T, url string) {
	t.Helper()
	eventually(t, func() error {
		resp, err := http.Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return errors.New(resp.Status)
		}
		return nil
	})
}

func eventually(t *testing.T, f func() error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(fmt.Errorf("after 10s: %w", err))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// With MIGRATE_DATABASE_URL set, the service refuses a DATABASE_URL that
// could become the owner (here the superuser itself), and starts with a
// confined login; a RETENTION_DAYS under the database's floor is refused.
func TestStartRefusesAnUnconfinedLoginAndARetentionUnderTheFloor(t *testing.T) {
	testkit.SkipIfShort(t)
	owner := testkit.NewDatabase(t)
	base := map[string]string{"AGENTIDP_INSECURE_PLAINTEXT": "true", "MIGRATE_DATABASE_URL": owner, "REDIS_URL": testkit.NewRedisURL(t),
		"GRPC_ADDR": "127.0.0.1:0", "HTTP_ADDR": "127.0.0.1:0",
		"REGISTRY_ADDR": app.Disabled, "CREDENTIALS_ADDR": app.Disabled}
	start := func(extra map[string]string) error {
		env := map[string]string{}
		for k, v := range base {
			env[k] = v
		}
		for k, v := range extra {
			env[k] = v
		}
		cfg, err := config.LoadFrom[app.Config](env)
		if err != nil {
			t.Fatal(err)
		}
		a, err := app.New(context.Background(), cfg, app.Deps{})
		if err == nil {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			_ = a.Run(ctx)
		}
		return err
	}
	if err := start(map[string]string{"DATABASE_URL": owner}); !errors.Is(err, postgres.ErrNotConfined) {
		t.Fatalf("the owner as DATABASE_URL: %v", err)
	}
	login := testkit.LoginRoleURL(t, owner, "agentidp_audit_app_test")
	if err := start(map[string]string{"DATABASE_URL": login, "RETENTION_DAYS": "30"}); err == nil ||
		!strings.Contains(err.Error(), "RETENTION_DAYS: 30 is below the database's floor of 90 days") {
		t.Fatalf("RETENTION_DAYS=30: %v", err)
	}
	if err := start(map[string]string{"DATABASE_URL": login}); err != nil {
		t.Fatalf("a confined login: %v", err)
	}
}
