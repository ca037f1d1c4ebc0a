// Package stack runs the whole AgentIdP mesh on 127.0.0.1 from real
// components: PostgreSQL, Redis, every service, the xDS control plane and
// Envoy. `make dev` runs it through cmd/devstack; end-to-end tests start an
// ephemeral copy on free ports.
package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sentryagent/agentidp/deploy/local/monitoring"
	gwenvoy "github.com/sentryagent/agentidp/gateway/envoy"
	"github.com/sentryagent/agentidp/libs/mtls"
	"github.com/sentryagent/agentidp/libs/redisacl"
	"github.com/sentryagent/agentidp/libs/testkit"
	"github.com/sentryagent/agentidp/libs/vaultclient"
)

// Ports are the TCP ports of the stack on 127.0.0.1.
type Ports struct {
	Gateway     int // Envoy's listener: the public API
	EnvoyAdmin  int
	XDS         int // control plane ADS
	GatewayHTTP int // control plane /readyz, /metrics
	Postgres    int
	Redis       int
	Vault       int
	// Per service: the first replica's gRPC and admin HTTP ports.
	RegistryGRPC    int
	RegistryHTTP    int
	CredentialsGRPC int
	CredentialsHTTP int
	AuditGRPC       int
	AuditHTTP       int
	TokenHTTP       int // the token service's public HTTP (OAuth 2.0 endpoints)
	TokenAdmin      int
	AuthzGRPC       int // the authz service's ext_authz gRPC
	AuthzHTTP       int
}

// DefaultPorts are the ports of `make dev`, documented in the README.
var DefaultPorts = Ports{
	Gateway: 8080, EnvoyAdmin: 9901, XDS: 18000, GatewayHTTP: 18080,
	Postgres: 55432, Redis: 56379, Vault: 58200,
	RegistryGRPC: 9101, RegistryHTTP: 9201,
	CredentialsGRPC: 9102, CredentialsHTTP: 9202,
	AuditGRPC: 9104, AuditHTTP: 9204,
	TokenHTTP: 9103, TokenAdmin: 9203,
	AuthzGRPC: 9105, AuthzHTTP: 9205,
}

// FreePorts picks a free port for everything (tests).
func FreePorts() (Ports, error) {
	var p Ports
	for _, dst := range []*int{&p.Gateway, &p.EnvoyAdmin, &p.XDS, &p.GatewayHTTP, &p.Postgres,
		&p.Redis, &p.Vault, &p.RegistryGRPC, &p.RegistryHTTP, &p.CredentialsGRPC, &p.CredentialsHTTP,
		&p.AuditGRPC, &p.AuditHTTP, &p.TokenHTTP, &p.TokenAdmin, &p.AuthzGRPC, &p.AuthzHTTP} {
		port, err := testkit.FreePort()
		if err != nil {
			return p, err
		}
		*dst = port
	}
	return p, nil
}

// Config describes a stack.
type Config struct {
	// Dir holds data/, logs/ and bin/. Data survives restarts of a stack
	// over the same Dir.
	Dir   string
	Ports Ports
	// Durable keeps fsync on in PostgreSQL and the AOF in Redis (make dev).
	Durable bool
	// TokenReplicas is how many token services run (default 1); the extra
	// ones take free ports. They share Redis and the signing keys in Vault.
	TokenReplicas int
	// TokenSigning is the token services' TOKEN_SIGNING: "" or
	// SigningLocal (the default, a key stored in Vault KV) or
	// SigningTransit (Vault's transit engine signs; the stack mounts it
	// and creates the key).
	TokenSigning string
	// AuthzReplicas is how many authz services run (default 1); the extra
	// ones take free ports. Each keeps its own state from the change feeds.
	AuthzReplicas int
	// PolicyDir is the authz services' policy directory (POLICY_DIR);
	// default the repository's policies/, so edits apply live (hot reload).
	PolicyDir string
	// ExtraEnv is added to a service's environment, by service name (e.g.
	// a higher token rate limit for benchmarks).
	ExtraEnv map[string][]string
	// OAuthRateLimit is the gateway's per-client-address limit on
	// /oauth2/* (rateLimits.oauth in its config). nil: LoopbackOAuthRateLimit.
	OAuthRateLimit *RateLimit
	// RepoRoot is the directory holding go.work; found from the working
	// directory when empty.
	RepoRoot string
	Logger   *slog.Logger
	// CertTTL is the life of the mesh certificates (default
	// DefaultCertTTL); they are re-issued at two thirds of it.
	CertTTL time.Duration
}

// RateLimit is a per-client-address limit of the gateway (its config's
// rateLimits): PerSecond sustained (0: none), Burst at once.
type RateLimit struct{ PerSecond, Burst int }

// LoopbackOAuthRateLimit is a local stack's limit on /oauth2/* unless
// Config says otherwise: every client of a stack on 127.0.0.1 is one
// address, and the benchmarks, the soak and the chaos suite drive thousands
// of requests a second from it. The production default is the gateway's
// (gateway/README.md); tests of the limit itself set their own.
var LoopbackOAuthRateLimit = RateLimit{PerSecond: 1_000_000, Burst: 1_000_000}

// Stack is a running mesh.
type Stack struct {
	cfg   Config
	log   *slog.Logger
	pg    *testkit.Postgres
	redis *testkit.Redis
	// redisPasswords are the ACL users' passwords (libs/redisacl), fresh
	// at every start.
	redisPasswords map[string]string
	vault          *testkit.Vault
	vaultTokens    map[string]string // service → its periodic policy token
	envoy          *testkit.Envoy
	dbURLs         map[string]string
	auditLoginURL  string // the audit service's confined login (audit.go)
	// registryLoginURL and credentialsLoginURL are those services'
	// confined logins (audit.go).
	registryLoginURL, credentialsLoginURL string

	// The mesh's dev CA (mesh.go).
	meshMu       sync.Mutex
	ca           *mtls.CA
	oldCAs       []*mtls.CA
	stopRotation context.CancelFunc

	mu         sync.Mutex
	services   map[string][]*Service // by name, one per replica
	gateway    *Service
	prometheus *testkit.Prometheus
}

// Start builds the binaries and starts every component, in dependency
// order, and returns once the gateway's /readyz says ready. On error,
// whatever started is stopped.
func Start(ctx context.Context, cfg Config) (s *Stack, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.TokenSigning != "" && cfg.TokenSigning != SigningLocal && cfg.TokenSigning != SigningTransit {
		return nil, fmt.Errorf("token signing %q is not one of local, transit", cfg.TokenSigning)
	}
	if cfg.RepoRoot == "" {
		if cfg.RepoRoot, err = FindRepoRoot(); err != nil {
			return nil, err
		}
	}
	if cfg.Dir, err = filepath.Abs(cfg.Dir); err != nil {
		return nil, err
	}
	for _, d := range []string{"logs", "bin", "data"} {
		if err := os.MkdirAll(filepath.Join(cfg.Dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	// A pid file marks the directory as in use (see Reset).
	pidFile := filepath.Join(cfg.Dir, "devstack.pid")
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return nil, err
	}
	s = &Stack{cfg: cfg, log: cfg.Logger, services: map[string][]*Service{}, dbURLs: map[string]string{}}
	defer func() {
		if err != nil {
			s.Stop()
			s = nil
		}
	}()

	s.log.Info("building binaries", "dir", s.binDir())
	if err := s.build(ctx); err != nil {
		return nil, err
	}
	if err := s.startData(ctx); err != nil {
		return nil, err
	}
	// Every internal call is mutual TLS with these certificates.
	if err := s.startMesh(); err != nil {
		return nil, err
	}
	for _, name := range serviceOrder {
		if _, err := s.startReplica(ctx, name, s.firstPorts(name)); err != nil {
			return nil, err
		}
	}
	for name, n := range map[string]int{"token": cfg.TokenReplicas, "authz": cfg.AuthzReplicas} {
		for i := 1; i < n; i++ {
			a, err := testkit.FreePort()
			if err != nil {
				return nil, err
			}
			b, err := testkit.FreePort()
			if err != nil {
				return nil, err
			}
			if _, err := s.startReplica(ctx, name, [2]int{a, b}); err != nil {
				return nil, err
			}
		}
	}
	if err := s.startGateway(ctx); err != nil {
		return nil, err
	}
	if err := s.WaitReady(ctx, 90*time.Second); err != nil {
		return nil, err
	}
	return s, nil
}

// serviceOrder starts dependencies first.
var serviceOrder = []string{"registry", "credentials", "audit", "token", "authz"}

// routed are the services the gateway serves REST for; their endpoints go
// into the gateway's configuration.
var routed = map[string]bool{"registry": true, "credentials": true, "audit": true, "token": true, "authz": true}

func (s *Stack) firstPorts(name string) [2]int {
	switch name {
	case "registry":
		return [2]int{s.cfg.Ports.RegistryGRPC, s.cfg.Ports.RegistryHTTP}
	case "credentials":
		return [2]int{s.cfg.Ports.CredentialsGRPC, s.cfg.Ports.CredentialsHTTP}
	case "audit":
		return [2]int{s.cfg.Ports.AuditGRPC, s.cfg.Ports.AuditHTTP}
	case "token":
		return [2]int{s.cfg.Ports.TokenHTTP, s.cfg.Ports.TokenAdmin}
	case "authz":
		return [2]int{s.cfg.Ports.AuthzGRPC, s.cfg.Ports.AuthzHTTP}
	}
	panic("unknown service " + name)
}

func (s *Stack) binDir() string          { return filepath.Join(s.cfg.Dir, "bin") }
func (s *Stack) logPath(n string) string { return filepath.Join(s.cfg.Dir, "logs", n+".log") }

// build compiles every service, the control plane and the agentidp command
// (BootstrapAdmin) with the workspace.
func (s *Stack) build(ctx context.Context) error {
	pkgs := []string{"./gateway/cmd/gateway", "./cli/cmd/agentidp"}
	for _, name := range serviceOrder {
		pkgs = append(pkgs, "./services/"+name+"/cmd/"+name)
	}
	args := append([]string{"build", "-o", s.binDir() + string(os.PathSeparator)}, pkgs...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = s.cfg.RepoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %w\n%s", err, out)
	}
	return nil
}

func (s *Stack) startData(ctx context.Context) error {
	pgDir, err := postgresDir(s.cfg.Dir)
	if err != nil {
		return err
	}
	s.log.Info("starting postgres", "port", s.cfg.Ports.Postgres, "data", pgDir)
	s.pg, err = testkit.StartPostgres(ctx, testkit.PostgresConfig{
		Dir: pgDir, Port: s.cfg.Ports.Postgres,
		LogPath: s.logPath("postgres"), Durable: s.cfg.Durable,
	})
	if err != nil {
		return err
	}
	for _, name := range serviceOrder {
		// Each service owns its database.
		url, err := s.pg.CreateDatabase(ctx, "agentidp_"+name)
		if err != nil {
			return fmt.Errorf("create database for %s: %w", name, err)
		}
		s.dbURLs[name] = url
	}
	s.log.Info("starting redis", "port", s.cfg.Ports.Redis)
	// Every service logs in as its own ACL user, with only the commands and
	// keys it uses (libs/redisacl); the default user is off.
	redisDir := filepath.Join(s.cfg.Dir, "data", "redis")
	if err := os.MkdirAll(redisDir, 0o700); err != nil {
		return err
	}
	s.redisPasswords = redisacl.Passwords()
	acl, err := redisacl.File(s.redisPasswords)
	if err != nil {
		return err
	}
	aclPath := filepath.Join(redisDir, "users.acl")
	if err := os.WriteFile(aclPath, []byte(acl), 0o600); err != nil {
		return err
	}
	s.redis, err = testkit.StartRedis(ctx, testkit.RedisConfig{
		Dir: redisDir, Port: s.cfg.Ports.Redis,
		LogPath: s.logPath("redis"), Durable: s.cfg.Durable, ACLFile: aclPath,
	})
	if err != nil {
		return err
	}
	// A file-backed Vault, initialised and unsealed on first start, so that
	// secrets survive restarts of the stack like the rows that point at them.
	s.log.Info("starting vault", "port", s.cfg.Ports.Vault)
	s.vault, err = testkit.StartVault(ctx, testkit.VaultConfig{
		Dir: filepath.Join(s.cfg.Dir, "data", "vault"), Port: s.cfg.Ports.Vault, LogPath: s.logPath("vault"),
	})
	if err != nil {
		return err
	}
	// The services run as in production, which refuses the root token:
	// each gets a periodic token with its own policy (renewed by the
	// service; it expires a day after the stack stops renewing it).
	tokenPolicy := vaultclient.TokenPolicy
	if s.cfg.TokenSigning == SigningTransit {
		if err := s.enableTransit(ctx); err != nil {
			return err
		}
		tokenPolicy = vaultclient.TokenTransitPolicy
	}
	s.vaultTokens = map[string]string{}
	for name, policy := range map[string]string{
		"credentials": vaultclient.CredentialsPolicy, "token": tokenPolicy,
		"audit": vaultclient.AuditCheckpointPolicy,
	} {
		if s.vaultTokens[name], err = s.vault.PolicyToken(ctx, "agentidp-"+name, policy, 24*time.Hour); err != nil {
			return fmt.Errorf("vault token for %s: %w", name, err)
		}
	}
	s.auditLoginURL, err = s.prepareAudit(ctx)
	return err
}

// VaultAddr is the stack's Vault (VAULT_ADDR).
func (s *Stack) VaultAddr() string { return s.vault.Addr() }

// VaultToken is the stack's Vault root token (tests read the token
// service's signing keys with it).
func (s *Stack) VaultToken() string { return s.vault.RootToken }

// RedisURL is the stack's Redis (database 0, which the services share) as
// the operators' ACL user, which may do anything.
func (s *Stack) RedisURL() string { return s.RedisURLFor(redisacl.Operator) }

// RedisDenials are the commands Redis refused a service's user since it
// started (its ACL LOG), as "user: reason object (context)".
func (s *Stack) RedisDenials(ctx context.Context) ([]string, error) {
	opts, err := redis.ParseURL(s.RedisURL())
	if err != nil {
		return nil, err
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	entries, err := rdb.ACLLog(ctx, 128).Result()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.Username == redisacl.Operator || e.Username == "default" {
			continue // tests poking at Redis, or a client without a user
		}
		out = append(out, fmt.Sprintf("%s: %s %s (%s, %d times)", e.Username, e.Reason, e.Object, e.Context, e.Count))
	}
	return out, nil
}

// RedisURLFor is the stack's Redis as user (a service's ACL user,
// libs/redisacl): what that service's REDIS_URL says.
func (s *Stack) RedisURLFor(user string) string {
	return redisacl.URL(testkit.Addr(s.redis.Port), 0, user, s.redisPasswords[user])
}

// Ports are the stack's ports.
func (s *Stack) Ports() Ports { return s.cfg.Ports }

// Binary is the path of a binary the stack built ("authz", "token", ...).
func (s *Stack) Binary(name string) string { return filepath.Join(s.binDir(), name) }

// PolicyDir is the authz services' policy directory.
func (s *Stack) PolicyDir() string {
	if s.cfg.PolicyDir != "" {
		return s.cfg.PolicyDir
	}
	return filepath.Join(s.cfg.RepoRoot, "policies")
}

// serviceEnv is the environment of one replica of a service listening on
// mainPort (what the gateway routes to) and adminPort.
func (s *Stack) serviceEnv(name string, mainPort, adminPort int) []string {
	env := []string{
		"GRPC_ADDR=" + testkit.Addr(mainPort),
		"HTTP_ADDR=" + testkit.Addr(adminPort),
		"LOG_FORMAT=text",
	}
	if name == "token" {
		// The token service's main listener is HTTP.
		env = []string{
			"HTTP_ADDR=" + testkit.Addr(mainPort),
			"ADMIN_ADDR=" + testkit.Addr(adminPort),
			"LOG_FORMAT=text",
		}
	}
	env = append(env, s.MeshEnv(name)...)
	switch name {
	case "registry":
		// A login of its own; the owner migrates (docs/architecture.md).
		env = append(env, "DATABASE_URL="+s.registryLoginURL, "MIGRATE_DATABASE_URL="+s.dbURLs[name])
	case "credentials":
		env = append(env,
			"DATABASE_URL="+s.credentialsLoginURL, "MIGRATE_DATABASE_URL="+s.dbURLs[name],
			"REGISTRY_ADDR="+testkit.Addr(s.cfg.Ports.RegistryGRPC),
			// A periodic token limited to its paths (docs/credentials.md).
			"VAULT_ADDR="+s.vault.Addr(),
			"VAULT_TOKEN="+s.vaultTokens[name],
		)
	case "audit":
		env = append(env, s.auditEnv()...)
		env = append(env,
			"REDIS_URL="+s.RedisURLFor(name),
			"REGISTRY_ADDR="+testkit.Addr(s.cfg.Ports.RegistryGRPC),
			"CREDENTIALS_ADDR="+testkit.Addr(s.cfg.Ports.CredentialsGRPC),
		)
	case "token":
		env = append(env,
			"REDIS_URL="+s.RedisURLFor(name),
			"REGISTRY_ADDR="+testkit.Addr(s.cfg.Ports.RegistryGRPC),
			"CREDENTIALS_ADDR="+testkit.Addr(s.cfg.Ports.CredentialsGRPC),
			"VAULT_ADDR="+s.vault.Addr(),
			"VAULT_TOKEN="+s.vaultTokens[name],
			// Tokens name the gateway as their issuer: clients discover the
			// endpoints through it (RFC 8414).
			"ISSUER="+s.GatewayURL(),
		)
		if s.cfg.TokenSigning == SigningTransit {
			env = append(env, "TOKEN_SIGNING=transit", "TRANSIT_KEY="+TransitKey)
		}
	case "authz":
		env = append(env,
			"REDIS_URL="+s.RedisURLFor(name),
			"REGISTRY_ADDR="+testkit.Addr(s.cfg.Ports.RegistryGRPC),
			"CREDENTIALS_ADDR="+testkit.Addr(s.cfg.Ports.CredentialsGRPC),
			// The keys come from the token service directly: every gateway
			// route but the token service's own needs authz first.
			// over the mesh's mutual TLS.
			"JWKS_URL=https://"+testkit.Addr(s.cfg.Ports.TokenHTTP)+"/.well-known/jwks.json",
			"ISSUER="+s.GatewayURL(),
			"POLICY_DIR="+s.PolicyDir(),
		)
	}
	return append(env, s.cfg.ExtraEnv[name]...)
}

// StartReplica starts another replica of a service on the given ports (0
// picks free ones), adds it to the gateway's configuration, and returns it.
func (s *Stack) StartReplica(ctx context.Context, name string, grpcPort, httpPort int) (*Service, error) {
	var err error
	if grpcPort == 0 {
		if grpcPort, err = testkit.FreePort(); err != nil {
			return nil, err
		}
	}
	if httpPort == 0 {
		if httpPort, err = testkit.FreePort(); err != nil {
			return nil, err
		}
	}
	svc, err := s.startReplica(ctx, name, [2]int{grpcPort, httpPort})
	if err != nil {
		return nil, err
	}
	return svc, s.writeGatewayConfig()
}

func (s *Stack) startReplica(ctx context.Context, name string, ports [2]int) (*Service, error) {
	s.mu.Lock()
	replica := len(s.services[name])
	s.mu.Unlock()
	logName := name
	if replica > 0 {
		logName = fmt.Sprintf("%s-%d", name, replica+1)
	}
	svc := &Service{
		Name: name, Addr: testkit.Addr(ports[0]), AdminAddr: testkit.Addr(ports[1]),
		bin: filepath.Join(s.binDir(), name), env: s.serviceEnv(name, ports[0], ports[1]),
		logPath: s.logPath(logName),
	}
	s.log.Info("starting "+logName, "grpc", svc.Addr)
	if err := svc.Start(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.services[name] = append(s.services[name], svc)
	s.mu.Unlock()
	return svc, nil
}

// Replicas returns the running replicas of a service.
func (s *Stack) Replicas(name string) []*Service {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Service(nil), s.services[name]...)
}

func (s *Stack) gatewayConfigPath() string { return filepath.Join(s.cfg.Dir, "gateway.yaml") }

// writeGatewayConfig writes the control plane's config file; the control
// plane notices the change and pushes it to Envoy.
func (s *Stack) writeGatewayConfig() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	b.WriteString("# Written by deploy/local (make dev). Edit to add endpoints: the gateway\n")
	b.WriteString("# reloads it within a second, without restarting Envoy.\n")
	fmt.Fprintf(&b, "listener:\n  address: 127.0.0.1\n  port: %d\n", s.cfg.Ports.Gateway)
	limit := LoopbackOAuthRateLimit
	if s.cfg.OAuthRateLimit != nil {
		limit = *s.cfg.OAuthRateLimit
	}
	fmt.Fprintf(&b, "rateLimits:\n  oauth: {perSecond: %d, burst: %d}\nservices:\n", limit.PerSecond, limit.Burst)
	for _, name := range serviceOrder {
		if !routed[name] {
			continue
		}
		fmt.Fprintf(&b, "  %s:\n    endpoints:\n", name)
		for _, svc := range s.services[name] {
			fmt.Fprintf(&b, "      - %s\n", svc.Addr)
		}
	}
	// Write-then-rename so the watcher never reads half a file.
	tmp := s.gatewayConfigPath() + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, s.gatewayConfigPath())
}

// SetOAuthRateLimit changes the gateway's per-client-address limit on
// /oauth2/* (the control plane applies the rewritten config within a
// second, without restarting Envoy).
func (s *Stack) SetOAuthRateLimit(l RateLimit) error {
	s.mu.Lock()
	s.cfg.OAuthRateLimit = &l
	s.mu.Unlock()
	return s.writeGatewayConfig()
}

func (s *Stack) startGateway(ctx context.Context) error {
	if err := s.writeGatewayConfig(); err != nil {
		return err
	}
	p := s.cfg.Ports
	s.gateway = &Service{
		Name: "gateway", Addr: testkit.Addr(p.XDS), AdminAddr: testkit.Addr(p.GatewayHTTP),
		bin: filepath.Join(s.binDir(), "gateway"), logPath: s.logPath("gateway"),
		env: []string{
			"GATEWAY_CONFIG=" + s.gatewayConfigPath(),
			"XDS_ADDR=" + testkit.Addr(p.XDS),
			"HTTP_ADDR=" + testkit.Addr(p.GatewayHTTP),
			"ENVOY_NODE_ID=agentidp-gateway",
		},
	}
	// Envoy and the control plane share the gateway's mesh identity: the
	// control plane hands Envoy the files' paths over SDS.
	s.gateway.env = append(s.gateway.env, s.MeshEnv(mtls.Gateway)...)
	// The web dashboard, at / through Envoy, once it is built
	// (scripts/dashboard.sh, or cd dashboard && npm ci && npm run build).
	if dist := filepath.Join(s.cfg.RepoRoot, "dashboard", "dist"); fileExists(filepath.Join(dist, "index.html")) {
		s.gateway.env = append(s.gateway.env, "DASHBOARD_DIR="+dist)
	}
	s.log.Info("starting gateway control plane", "xds", s.gateway.Addr)
	if err := s.gateway.Start(ctx); err != nil {
		return err
	}
	bootstrap, err := gwenvoy.Bootstrap{
		XDSAddr: testkit.Addr(p.XDS), AdminAddr: testkit.Addr(p.EnvoyAdmin), NodeID: "agentidp-gateway",
	}.Render()
	if err != nil {
		return err
	}
	s.log.Info("starting envoy", "listener", s.GatewayURL())
	s.envoy, err = testkit.StartEnvoy(ctx, testkit.EnvoyConfig{
		BootstrapYAML: string(bootstrap), Dir: filepath.Join(s.cfg.Dir, "envoy"),
		AdminPort: p.EnvoyAdmin, LogPath: s.logPath("envoy"),
	})
	return err
}

// MetricsTargets lists every process's metrics address by scrape job
// (deploy/local/monitoring.Jobs).
func (s *Stack) MetricsTargets() map[string][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]string{
		"gateway": {testkit.Addr(s.cfg.Ports.GatewayHTTP)},
		"envoy":   {testkit.Addr(s.cfg.Ports.EnvoyAdmin)},
	}
	for name, replicas := range s.services {
		for _, r := range replicas {
			out[name] = append(out[name], r.AdminAddr)
		}
	}
	return out
}

// GatewayURL is the public API's base URL.
func (s *Stack) GatewayURL() string { return "http://" + testkit.Addr(s.cfg.Ports.Gateway) }

// Dir is the stack's state directory.
func (s *Stack) Dir() string { return s.cfg.Dir }

// LogDir holds one log file per process.
func (s *Stack) LogDir() string { return filepath.Join(s.cfg.Dir, "logs") }

// WaitReady polls GET /readyz through Envoy until it answers 200.
func (s *Stack) WaitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: 2 * time.Second}
	var last string
	for {
		resp, err := client.Get(s.GatewayURL() + "/readyz")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(body)))
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the gateway did not become ready within %s (last answer: %s); logs in %s", timeout, last, s.LogDir())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Stop stops everything, clients first, data stores last.
func (s *Stack) Stop() {
	if s == nil {
		return
	}
	if s.stopRotation != nil {
		s.stopRotation()
	}
	s.prometheus.Stop()
	s.envoy.Stop()
	s.gateway.Stop()
	s.mu.Lock()
	var all []*Service
	for i := len(serviceOrder) - 1; i >= 0; i-- {
		all = append(all, s.services[serviceOrder[i]]...)
	}
	s.mu.Unlock()
	for _, svc := range all {
		svc.Stop()
	}
	s.vault.Stop()
	s.redis.Stop()
	s.pg.Stop()
	_ = os.Remove(filepath.Join(s.cfg.Dir, "devstack.pid"))
}

// Service is one process of the mesh, which tests may stop and restart.
type Service struct {
	Name string
	// Addr is the listener the gateway routes to (gRPC, or the token
	// service's public HTTP); AdminAddr serves /metrics, /healthz, /readyz.
	Addr      string
	AdminAddr string
	bin       string
	env       []string
	logPath   string

	mu   sync.Mutex
	proc *testkit.Process
}

// Start runs the process and waits until its gRPC port accepts connections.
func (p *Service) Start(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	cmd := exec.Command(p.bin)
	cmd.Env = append(os.Environ(), p.env...)
	proc, err := testkit.StartProcess(cmd, p.logPath)
	if err != nil {
		return err
	}
	p.proc = proc
	wait, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-proc.Done():
			cancel()
		case <-wait.Done():
		}
	}()
	if err := testkit.WaitTCP(wait, p.Addr, 60*time.Second); err != nil {
		if errors.Is(err, context.Canceled) && ctx.Err() == nil {
			return fmt.Errorf("%s exited at start-up (%v); see %s", p.Name, proc.Err(), p.logPath)
		}
		proc.Stop(syscall.SIGKILL, time.Second)
		return fmt.Errorf("%s: %w; see %s", p.Name, err, p.logPath)
	}
	return nil
}

// Stop asks the process to shut down (SIGTERM) and waits for it.
func (p *Service) Stop() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.proc.Stop(syscall.SIGTERM, 15*time.Second)
}

// Kill ends the process at once (SIGKILL), as a crash would.
func (p *Service) Kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.proc.Stop(syscall.SIGKILL, time.Second)
}

// FindRepoRoot walks up from the working directory to the go.work file.
func FindRepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.work not found above the working directory; run from the AgentIdP checkout")
		}
		dir = parent
	}
}

// StartMonitoring runs Prometheus (Debian package) scraping every process
// of the stack with the alert rules of deploy/monitoring, and returns its URL.
// It stops with the stack.
func (s *Stack) StartMonitoring(ctx context.Context, port int) (string, error) {
	dir := filepath.Join(s.cfg.Dir, "data", "prometheus")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	conf := filepath.Join(s.cfg.Dir, "prometheus.yml")
	rules := filepath.Join(s.cfg.RepoRoot, "deploy", "monitoring", "alerts.yml")
	if err := os.WriteFile(conf, monitoring.PrometheusConfig(s.MetricsTargets(), rules, "5s"), 0o644); err != nil {
		return "", err
	}
	prom, err := testkit.StartPrometheus(ctx, testkit.PrometheusConfig{
		Dir: dir, ConfigPath: conf, Port: port, LogPath: s.logPath("prometheus"),
	})
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	s.prometheus = prom
	s.mu.Unlock()
	return prom.URL(), nil
}
