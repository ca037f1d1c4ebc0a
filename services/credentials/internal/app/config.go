package app

import (
	"errors"
	"fmt"
	"time"

	"github.com/sentryagent/agentidp/libs/config"
	"github.com/sentryagent/agentidp/libs/vaultclient"
)

// Config is read from the environment (README.md lists every variable).
type Config struct {
	config.Common
	// The mesh identity (libs/mtls): TLS_CERT_FILE, TLS_KEY_FILE, TLS_CA_FILE.
	config.Mesh
	// GRPCAddr serves CredentialsService, ClientAuthService,
	// CredentialEventsService and grpc.health.v1.
	GRPCAddr string `env:"GRPC_ADDR" envDefault:"127.0.0.1:9102"`
	// HTTPAddr serves /metrics, /healthz and /readyz.
	HTTPAddr string `env:"HTTP_ADDR" envDefault:"127.0.0.1:9202"`
	// DatabaseURL is the service's own PostgreSQL database.
	DatabaseURL string `env:"DATABASE_URL,required"`
	// MigrateDatabaseURL, when set, is the database's owner: it migrates,
	// and DATABASE_URL is then a login role that is not the owner and
	// cannot become it (the service refuses to start otherwise).
	MigrateDatabaseURL string `env:"MIGRATE_DATABASE_URL"`
	DBMaxConns         int32  `env:"DB_MAX_CONNS" envDefault:"0"`
	// RegistryAddr is the registry's gRPC address (GetAgent, change feed).
	RegistryAddr    string        `env:"REGISTRY_ADDR" envDefault:"127.0.0.1:9101"`
	RegistryTimeout time.Duration `env:"REGISTRY_TIMEOUT" envDefault:"3s"`
	// VaultAddr selects Vault mode; empty keeps secrets as hashes in Postgres.
	VaultAddr    string        `env:"VAULT_ADDR"`
	VaultToken   string        `env:"VAULT_TOKEN"`
	VaultMount   string        `env:"VAULT_MOUNT" envDefault:"secret"`
	VaultTimeout time.Duration `env:"VAULT_TIMEOUT" envDefault:"5s"`
	// Vault holds the login settings: VAULT_AUTH_METHOD (token, or
	// kubernetes with VAULT_K8S_ROLE, VAULT_K8S_MOUNT, VAULT_K8S_JWT_PATH)
	// and VAULT_ALLOW_ROOT_TOKEN (development only).
	Vault vaultclient.Settings
	// SecretCacheTTL bounds how long a digest of a Vault secret stays in
	// memory (0 disables the cache); SecretCacheSize bounds how many.
	SecretCacheTTL  time.Duration `env:"SECRET_CACHE_TTL" envDefault:"5m"`
	SecretCacheSize int           `env:"SECRET_CACHE_SIZE" envDefault:"100000"`
	// PendingTimeout: age after which a half-written credential is undone.
	PendingTimeout    time.Duration `env:"PENDING_TIMEOUT" envDefault:"30s"`
	ReconcileInterval time.Duration `env:"RECONCILE_INTERVAL" envDefault:"30s"`
	// GraceSweepInterval: how soon after a grace period ends its
	// grace_ended event is published on the change feed.
	GraceSweepInterval time.Duration `env:"GRACE_SWEEP_INTERVAL" envDefault:"1s"`
	// LastUsedFlushInterval batches lastUsedAt writes.
	LastUsedFlushInterval time.Duration `env:"LAST_USED_FLUSH_INTERVAL" envDefault:"5s"`
	// BcryptConcurrency bounds the bcrypt comparisons of legacy secrets
	// running at once (0: half the CPUs, at least 1).
	BcryptConcurrency int `env:"BCRYPT_CONCURRENCY" envDefault:"0"`
}

// Validate checks what parsing cannot, naming the variable at fault.
func (c Config) Validate() error {
	if err := c.Common.Validate(); err != nil {
		return err
	}
	if err := c.Mesh.Validate(); err != nil {
		return err
	}
	for _, a := range []struct{ name, addr string }{
		{"GRPC_ADDR", c.GRPCAddr}, {"HTTP_ADDR", c.HTTPAddr}, {"REGISTRY_ADDR", c.RegistryAddr},
	} {
		if err := config.CheckAddr(a.name, a.addr); err != nil {
			return err
		}
	}
	switch {
	case c.DBMaxConns < 0:
		return errors.New("DB_MAX_CONNS: must not be negative")
	case c.VaultAddr != "" && c.Vault.AuthMethod == vaultclient.AuthToken && c.VaultToken == "":
		return errors.New("VAULT_TOKEN: required when VAULT_ADDR is set (or set VAULT_AUTH_METHOD=kubernetes)")
	case c.VaultAddr == "" && c.VaultToken != "":
		return errors.New("VAULT_ADDR: VAULT_TOKEN is set but VAULT_ADDR is not (set both for Vault mode, neither for the embedded mode)")
	case c.VaultAddr != "" && c.Vault.Config(c.VaultAddr, c.VaultToken, c.VaultTimeout, nil).Validate() != nil:
		return c.Vault.Config(c.VaultAddr, c.VaultToken, c.VaultTimeout, nil).Validate()
	case c.VaultMount == "":
		return errors.New("VAULT_MOUNT: must not be empty")
	case c.VaultTimeout <= 0:
		return errors.New("VAULT_TIMEOUT: must be positive")
	case c.RegistryTimeout <= 0:
		return errors.New("REGISTRY_TIMEOUT: must be positive")
	case c.SecretCacheTTL < 0 || c.SecretCacheSize < 0:
		return errors.New("SECRET_CACHE_TTL, SECRET_CACHE_SIZE: must not be negative")
	case c.PendingTimeout < 3*c.VaultTimeout:
		return fmt.Errorf("PENDING_TIMEOUT: must be at least 3×VAULT_TIMEOUT (%s), so that no write is still in flight when its row is undone", 3*c.VaultTimeout)
	case c.ReconcileInterval <= 0 || c.LastUsedFlushInterval <= 0 || c.GraceSweepInterval <= 0:
		return errors.New("RECONCILE_INTERVAL, LAST_USED_FLUSH_INTERVAL, GRACE_SWEEP_INTERVAL: must be positive")
	case c.BcryptConcurrency < 0:
		return errors.New("BCRYPT_CONCURRENCY: must not be negative")
	}
	return nil
}
