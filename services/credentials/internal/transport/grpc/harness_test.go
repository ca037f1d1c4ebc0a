package grpc_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/sentryagent/agentidp/libs/feed"
	credentialsv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/credentials/v1"
	registryv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/registry/v1"
	"github.com/sentryagent/agentidp/libs/grpcclient"
	"github.com/sentryagent/agentidp/libs/grpcserver"
	"github.com/sentryagent/agentidp/libs/metrics"
	"github.com/sentryagent/agentidp/libs/postgres"
	"github.com/sentryagent/agentidp/libs/testkit"
	"github.com/sentryagent/agentidp/libs/vaultclient"
	"github.com/sentryagent/agentidp/services/credentials/internal/agents"
	"github.com/sentryagent/agentidp/services/credentials/internal/credential"
	"github.com/sentryagent/agentidp/services/credentials/internal/endpoints"
	pgstore "github.com/sentryagent/agentidp/services/credentials/internal/store/postgres"
	grpctransport "github.com/sentryagent/agentidp/services/credentials/internal/transport/grpc"
	"github.com/sentryagent/agentidp/services/credentials/internal/vault"
	"github.com/sentryagent/agentidp/services/credentials/migrations"
)

func TestMain(m *testing.M) {
	code := m.Run()
	stopRegistry()
	testkit.StopShared()
	os.Exit(code)
}

// The real registry, as a process, shared by the package's tests (each
// test registers its own agents).
var (
	registryOnce sync.Once
	registryAddr string
	registryProc *testkit.Process
	registryErr  error
)

func sharedRegistry(t testing.TB) string {
	t.Helper()
	testkit.SkipIfShort(t)
	registryOnce.Do(func() {
		bin := testkit.GoBinary(t, "github.com/sentryagent/agentidp/services/registry/cmd/registry")
		db := testkit.NewDatabase(t)
		registryAddr = testkit.Addr(testkit.MustFreePort(t))
		cmd := exec.Command(bin)
		cmd.Env = append(os.Environ(), testkit.PlaintextEnv, "DATABASE_URL="+db, "GRPC_ADDR="+registryAddr,
			"HTTP_ADDR="+testkit.Addr(testkit.MustFreePort(t)), "LOG_LEVEL=warn")
		registryProc, registryErr = testkit.StartProcess(cmd, filepath.Join(os.TempDir(), "agentidp-credentials-test-registry.log"))
		if registryErr == nil {
			registryErr = testkit.WaitTCP(context.Background(), registryAddr, 60*time.Second)
		}
	})
	if registryErr != nil {
		t.Fatalf("registry: %v", registryErr)
	}
	return registryAddr
}

func stopRegistry() {
	if registryProc != nil {
		registryProc.Stop(syscall.SIGTERM, 5*time.Second)
	}
}

// logBuffer captures everything the service logs.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type options struct {
	// vault selects Vault mode; nil is the embedded mode.
	vault *testkit.Vault
	// dbURL reuses a database (a second replica, a restart); empty: a new one.
	dbURL string
	// migrate, if set, prepares the database instead of the full migration.
	migrate        func(t testing.TB, pool *pgxpool.Pool)
	noCache        bool
	pendingTimeout time.Duration
	vaultTimeout   time.Duration
	reconcileEvery time.Duration
	// registryAddr overrides the shared registry (e.g. with a dead address).
	registryAddr string
	noFeed       bool
}

// env is one credentials service, in process, over bufconn, with real
// PostgreSQL, real Vault (optional) and the real registry.
type env struct {
	t        testing.TB
	creds    credentialsv1.CredentialsServiceClient
	auth     credentialsv1.ClientAuthServiceClient
	events   credentialsv1.CredentialEventsServiceClient
	registry registryv1.RegistryServiceClient
	svc      *credential.Service
	store    *pgstore.Store
	pool     *pgxpool.Pool
	dbURL    string
	kv       *vault.KV
	logs     *logBuffer
	reg      *prometheus.Registry
	stop     context.CancelFunc
	done     sync.WaitGroup
}

func newEnv(t testing.TB, o options) *env {
	t.Helper()
	regAddr := o.registryAddr
	if regAddr == "" {
		regAddr = sharedRegistry(t)
	}
	if o.vaultTimeout == 0 {
		o.vaultTimeout = 2 * time.Second
	}
	ctx := context.Background()
	e := &env{t: t, logs: &logBuffer{}, reg: prometheus.NewRegistry(), dbURL: o.dbURL}
	if e.dbURL == "" {
		e.dbURL = testkit.NewDatabase(t)
	}
	logger := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("service log:\n%s", e.logs.String())
		}
	})
	pool, err := postgres.Open(ctx, postgres.Config{URL: e.dbURL}, metrics.NewStore(e.reg))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	e.pool = pool
	if o.migrate != nil {
		o.migrate(t, pool)
	} else if err := postgres.Migrate(ctx, pool, migrations.FS); err != nil {
		t.Fatal(err)
	}
	var v credential.Vault
	if o.vault != nil {
		kv, err := vault.Connect(ctx, vault.Config{Addr: o.vault.Addr(), Token: o.vault.RootToken, Timeout: o.vaultTimeout, Registerer: e.reg,
			Auth: vaultclient.Config{AllowRootToken: true}})
		if err != nil {
			t.Fatal(err)
		}
		e.kv, v = kv, kv
	}
	regConn, err := grpcclient.Dial(regAddr, grpcclient.Config{Name: "registry", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { regConn.Close() })
	e.registry = registryv1.NewRegistryServiceClient(regConn)

	e.store = pgstore.New(pool)
	var cache *credential.DigestCache
	if !o.noCache {
		cache = credential.NewDigestCache(time.Minute, 1000)
	}
	usage := credential.NewUsageRecorder(e.store, 200*time.Millisecond, logger)
	e.svc = credential.New(credential.Config{
		Store: e.store, Directory: agents.NewRegistry(e.registry), Vault: v, Cache: cache, Usage: usage,
		Metrics: credential.NewMetrics(e.reg), Logger: logger, VaultTimeout: o.vaultTimeout,
		PendingTimeout: o.pendingTimeout,
	})
	set := endpoints.New(e.svc)
	srv, _ := grpcserver.New(grpcserver.Config{Logger: logger, Metrics: metrics.NewGRPC(e.reg)})
	credentialsv1.RegisterCredentialsServiceServer(srv, grpctransport.NewServer(set))
	credentialsv1.RegisterClientAuthServiceServer(srv, grpctransport.NewAuthServer(set))
	credentialsv1.RegisterCredentialEventsServiceServer(srv, grpctransport.NewEventsServer(e.store))
	lis := bufconn.Listen(1 << 20)
	go func() { _ = srv.Serve(lis) }()
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	e.creds = credentialsv1.NewCredentialsServiceClient(conn)
	e.auth = credentialsv1.NewClientAuthServiceClient(conn)
	e.events = credentialsv1.NewCredentialEventsServiceClient(conn)

	runCtx, cancel := context.WithCancel(ctx)
	e.stop = cancel
	e.run(func() { _ = usage.Run(runCtx) })
	e.run(func() { _ = e.store.Listen(runCtx) })
	e.run(func() { _ = credential.RunGraceSweeper(runCtx, e.store, 100*time.Millisecond, logger) })
	if !o.noFeed {
		e.run(func() {
			_ = feed.New(feed.AgentEvents(registryv1.NewAgentEventsServiceClient(regConn)),
				postgres.FeedCursor{Pool: pool, Consumer: agents.ConsumerName}, feed.Config{Name: "agents", Logger: logger}).
				Run(runCtx, feed.Each(agents.Handler(e.store, e.svc.Revoked, logger)))
		})
	}
	if o.reconcileEvery > 0 {
		e.run(func() { _ = e.svc.RunReconciler(runCtx, o.reconcileEvery) })
	}
	t.Cleanup(func() {
		conn.Close()
		srv.Stop()
		e.shutdown()
	})
	return e
}

func (e *env) run(f func()) {
	e.done.Add(1)
	go func() { defer e.done.Done(); f() }()
}

// shutdown stops the background loops (the usage recorder flushes once more).
func (e *env) shutdown() {
	e.stop()
	e.done.Wait()
}

// newAgent registers an agent in the real registry.
func (e *env) newAgent(scopes ...string) string {
	e.t.Helper()
	a, err := e.registry.CreateAgent(context.Background(), &registryv1.CreateAgentRequest{Agent: &registryv1.Agent{
		Name: "bot-" + e.t.Name(), Owner: "team-test", Scopes: scopes,
	}})
	if err != nil {
		e.t.Fatalf("create agent: %v", err)
	}
	return a.GetAgentId()
}

func (e *env) setAgentStatus(id, status string) {
	e.t.Helper()
	ctx := context.Background()
	var err error
	if status == "decommissioned" {
		_, err = e.registry.DeleteAgent(ctx, &registryv1.DeleteAgentRequest{AgentId: id})
	} else {
		_, err = e.registry.UpdateAgent(ctx, &registryv1.UpdateAgentRequest{
			Agent: &registryv1.Agent{AgentId: id, Status: status}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"status"}},
		})
	}
	if err != nil {
		e.t.Fatalf("set agent %s %s: %v", id, status, err)
	}
}

func (e *env) create(agentID string, ttl int64) *credentialsv1.IssuedCredential {
	e.t.Helper()
	ic, err := e.creds.CreateCredential(context.Background(), &credentialsv1.CreateCredentialRequest{AgentId: agentID, TtlSeconds: ttl})
	if err != nil {
		e.t.Fatalf("create credential: %v", err)
	}
	return ic
}

func (e *env) rotate(agentID, credID string, grace int64) *credentialsv1.IssuedCredential {
	e.t.Helper()
	ic, err := e.creds.RotateCredential(context.Background(), &credentialsv1.RotateCredentialRequest{
		AgentId: agentID, CredentialId: credID, GracePeriodSeconds: grace})
	if err != nil {
		e.t.Fatalf("rotate credential: %v", err)
	}
	return ic
}

func (e *env) verify(clientID, secret string) (*credentialsv1.VerifyClientSecretResponse, error) {
	return e.auth.VerifyClientSecret(context.Background(), &credentialsv1.VerifyClientSecretRequest{ClientId: clientID, ClientSecret: secret})
}

func (e *env) wantValid(clientID, secret string) *credentialsv1.VerifyClientSecretResponse {
	e.t.Helper()
	resp, err := e.verify(clientID, secret)
	if err != nil {
		e.t.Fatalf("verify: %v", err)
	}
	if resp.GetAgentId() != clientID {
		e.t.Fatalf("verify: agent %s, want %s", resp.GetAgentId(), clientID)
	}
	return resp
}

func (e *env) wantInvalid(clientID, secret string) {
	e.t.Helper()
	_, err := e.verify(clientID, secret)
	wantError(e.t, err, codes.Unauthenticated, "INVALID_CLIENT", "")
	if msg := status.Convert(err).Message(); msg != "invalid client" {
		e.t.Fatalf("message %q, want the uniform %q", msg, "invalid client")
	}
}

// eventually retries f until it returns nil or timeout passes.
func eventually(t testing.TB, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// wantError asserts err's gRPC code, ErrorInfo reason and (if not empty) field.
func wantError(t testing.TB, err error, code codes.Code, reason, field string) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != code {
		t.Fatalf("code = %v (%v), want %v", st.Code(), err, code)
	}
	var info *errdetails.ErrorInfo
	for _, d := range st.Details() {
		if i, ok := d.(*errdetails.ErrorInfo); ok {
			info = i
		}
	}
	if info == nil {
		t.Fatalf("no ErrorInfo in %v", err)
	}
	if info.GetReason() != reason {
		t.Fatalf("reason = %s (%v), want %s", info.GetReason(), err, reason)
	}
	if field != "" && info.GetMetadata()["field"] != field {
		t.Fatalf("field = %q (%v), want %q", info.GetMetadata()["field"], err, field)
	}
}
