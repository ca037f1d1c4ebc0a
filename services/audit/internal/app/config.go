package app

import (
	"errors"
	"time"

	"github.com/sentryagent/agentidp/libs/config"
)

// Disabled, as REGISTRY_ADDR or CREDENTIALS_ADDR, turns that feed off.
const Disabled = "off"

// Config is read from the environment (README.md lists every variable).
type Config struct {
	config.Common
	// The mesh identity (libs/mtls): TLS_CERT_FILE, TLS_KEY_FILE, TLS_CA_FILE.
	config.Mesh
	// GRPCAddr serves AuditService, AuditIngestService and grpc.health.v1.
	GRPCAddr string `env:"GRPC_ADDR" envDefault:"127.0.0.1:9104"`
	// HTTPAddr serves /metrics, /healthz and /readyz.
	HTTPAddr string `env:"HTTP_ADDR" envDefault:"127.0.0.1:9204"`
	// DatabaseURL is the audit service's own PostgreSQL database. Its user
	// runs the migrations; queries then run as the restricted role.
	DatabaseURL string `env:"DATABASE_URL,required"`
	// MigrateDatabaseURL, when set, is the database's owner: it runs the
	// migrations, and DATABASE_URL is then a login role that is not the
	// owner and cannot become it (the service refuses to start otherwise).
	// Unset (development, older deployments): DATABASE_URL's user migrates
	// and queries run as the writer role it may leave (docs/audit.md).
	MigrateDatabaseURL string `env:"MIGRATE_DATABASE_URL"`
	DBMaxConns         int32  `env:"DB_MAX_CONNS" envDefault:"0"`
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

	// The checkpoint signer: SignerConfig's variables, repeated here so
	// that the Config's variables are all its own fields (deploy/checks
	// reads them from this struct).
	CheckpointTransitKey   string `env:"AUDIT_CHECKPOINT_TRANSIT_KEY"`
	CheckpointTransitMount string `env:"AUDIT_CHECKPOINT_TRANSIT_MOUNT" envDefault:"transit"`
	VaultAddr              string `env:"AUDIT_CHECKPOINT_VAULT_ADDR"`
	VaultToken             string `env:"AUDIT_CHECKPOINT_VAULT_TOKEN"`
	VaultAllowRootToken    bool   `env:"AUDIT_CHECKPOINT_VAULT_ALLOW_ROOT_TOKEN" envDefault:"false"`
	CheckpointKeyFile      string `env:"AUDIT_CHECKPOINT_KEY_FILE"`
	// CheckpointDir, when set, receives every checkpoint as a JSON line.
	CheckpointDir string `env:"AUDIT_CHECKPOINT_DIR"`
	// A checkpoint every CheckpointEvents events or CheckpointInterval,
	// whichever comes first.
	CheckpointEvents   int64         `env:"AUDIT_CHECKPOINT_EVENTS" envDefault:"10000"`
	CheckpointInterval time.Duration `env:"AUDIT_CHECKPOINT_INTERVAL" envDefault:"1m"`
}

// SignerConfig names the checkpoint signer (docs/audit.md, "Signed
// checkpoints"). Its Vault settings are the audit service's own (a token
// that may only sign with the checkpoint key and read it), optional, and
// named apart from the VAULT_ADDR/VAULT_TOKEN that services needing Vault
// read: Vault transit when AUDIT_CHECKPOINT_TRANSIT_KEY is set,
// else the Ed25519 key file AUDIT_CHECKPOINT_KEY_FILE (created when
// missing), else none.
type SignerConfig struct {
	CheckpointTransitKey   string `env:"AUDIT_CHECKPOINT_TRANSIT_KEY"`
	CheckpointTransitMount string `env:"AUDIT_CHECKPOINT_TRANSIT_MOUNT" envDefault:"transit"`
	VaultAddr              string `env:"AUDIT_CHECKPOINT_VAULT_ADDR"`
	VaultToken             string `env:"AUDIT_CHECKPOINT_VAULT_TOKEN"`
	// VaultAllowRootToken accepts a root token (local development only;
	// libs/vaultclient refuses one otherwise).
	VaultAllowRootToken bool   `env:"AUDIT_CHECKPOINT_VAULT_ALLOW_ROOT_TOKEN" envDefault:"false"`
	CheckpointKeyFile   string `env:"AUDIT_CHECKPOINT_KEY_FILE"`
}

// Validate checks the signer's variables.
func (c SignerConfig) Validate() error {
	switch {
	case c.CheckpointTransitKey != "" && (c.VaultAddr == "" || c.VaultToken == ""):
		return errors.New("AUDIT_CHECKPOINT_TRANSIT_KEY: needs AUDIT_CHECKPOINT_VAULT_ADDR and AUDIT_CHECKPOINT_VAULT_TOKEN")
	case c.CheckpointTransitKey != "" && c.CheckpointKeyFile != "":
		return errors.New("AUDIT_CHECKPOINT_TRANSIT_KEY, AUDIT_CHECKPOINT_KEY_FILE: set one signer, not both")
	}
	return nil
}

// Signer is the Config's checkpoint signer settings.
func (c Config) Signer() SignerConfig {
	return SignerConfig{CheckpointTransitKey: c.CheckpointTransitKey, CheckpointTransitMount: c.CheckpointTransitMount,
		VaultAddr: c.VaultAddr, VaultToken: c.VaultToken, VaultAllowRootToken: c.VaultAllowRootToken,
		CheckpointKeyFile: c.CheckpointKeyFile}
}

// Validate checks what parsing cannot, naming the variable at fault.
func (c Config) Validate() error {
	if err := c.Signer().Validate(); err != nil {
		return err
	}
	if err := c.Common.Validate(); err != nil {
		return err
	}
	if err := c.Mesh.Validate(); err != nil {
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
	case c.CheckpointEvents < 1:
		return errors.New("AUDIT_CHECKPOINT_EVENTS: must be positive")
	case c.CheckpointInterval <= 0:
		return errors.New("AUDIT_CHECKPOINT_INTERVAL: must be positive")
	case c.CheckpointDir != "" && c.CheckpointTransitKey == "" && c.CheckpointKeyFile == "":
		return errors.New("AUDIT_CHECKPOINT_DIR: checkpoints are off: set AUDIT_CHECKPOINT_TRANSIT_KEY or AUDIT_CHECKPOINT_KEY_FILE")
	}
	return nil
}
