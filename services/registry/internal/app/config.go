package app

import (
	"errors"

	"github.com/sentryagent/agentidp/libs/config"
)

// Config is read from the environment (README.md lists every variable).
type Config struct {
	config.Common
	// The mesh identity (libs/mtls): TLS_CERT_FILE, TLS_KEY_FILE, TLS_CA_FILE.
	config.Mesh
	// GRPCAddr serves RegistryService, AgentEventsService and grpc.health.v1.
	GRPCAddr string `env:"GRPC_ADDR" envDefault:"127.0.0.1:9101"`
	// HTTPAddr serves /metrics, /healthz and /readyz.
	HTTPAddr string `env:"HTTP_ADDR" envDefault:"127.0.0.1:9201"`
	// DatabaseURL is the registry's own PostgreSQL database.
	DatabaseURL string `env:"DATABASE_URL,required"`
	// MigrateDatabaseURL, when set, is the database's owner: it migrates,
	// and DATABASE_URL is then a login role that is not the owner and
	// cannot become it (the service refuses to start otherwise). Unset:
	// DATABASE_URL's user is the owner and does both.
	MigrateDatabaseURL string `env:"MIGRATE_DATABASE_URL"`
	DBMaxConns         int32  `env:"DB_MAX_CONNS" envDefault:"0"`
}

// Validate checks what parsing cannot, naming the variable at fault.
func (c Config) Validate() error {
	if err := c.Common.Validate(); err != nil {
		return err
	}
	if err := c.Mesh.Validate(); err != nil {
		return err
	}
	if err := config.CheckAddr("GRPC_ADDR", c.GRPCAddr); err != nil {
		return err
	}
	if err := config.CheckAddr("HTTP_ADDR", c.HTTPAddr); err != nil {
		return err
	}
	if c.DBMaxConns < 0 {
		return errors.New("DB_MAX_CONNS: must not be negative")
	}
	return nil
}
