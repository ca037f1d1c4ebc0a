package app

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sentryagent/agentidp/libs/config"
	"github.com/sentryagent/agentidp/libs/mtls"
)

// Config is read from the environment (README.md lists every variable).
type Config struct {
	config.Common
	// The mesh identity (libs/mtls): TLS_CERT_FILE, TLS_KEY_FILE, TLS_CA_FILE.
	config.Mesh
	// ExtAuthzCallers are the mesh identities (libs/mtls) that may call
	// Check: the gateway's Envoy, and the Envoy in front of another app
	// that this instance protects (docs/authz.md).
	ExtAuthzCallers []string `env:"EXTAUTHZ_CALLERS" envDefault:"gateway" envSeparator:","`
	// GRPCAddr serves envoy.service.auth.v3.Authorization and grpc.health.v1.
	GRPCAddr string `env:"GRPC_ADDR" envDefault:"127.0.0.1:9105"`
	// HTTPAddr serves /metrics, /healthz and /readyz.
	HTTPAddr string `env:"HTTP_ADDR" envDefault:"127.0.0.1:9205"`
	// RedisURL: the revocation record and channel, rate limits, the audit
	// stream.
	RedisURL string `env:"REDIS_URL,required"`

	// JWKSURL is the token service's JWKS, fetched directly (not through
	// the gateway, whose every route but the token service's needs authz).
	JWKSURL            string        `env:"JWKS_URL" envDefault:"http://127.0.0.1:9103/.well-known/jwks.json"`
	JWKSRefresh        time.Duration `env:"JWKS_REFRESH_INTERVAL" envDefault:"5m"`
	JWKSMinRefresh     time.Duration `env:"JWKS_MIN_REFRESH_INTERVAL" envDefault:"5s"`
	Issuer             string        `env:"ISSUER" envDefault:"http://127.0.0.1:8080"`
	Audience           string        `env:"AUDIENCE" envDefault:"agentidp"`
	ClockSkew          time.Duration `env:"CLOCK_SKEW" envDefault:"30s"`
	MaxTokenLifetime   time.Duration `env:"MAX_TOKEN_LIFETIME" envDefault:"24h"`
	TokenCacheSize     int           `env:"TOKEN_CACHE_SIZE" envDefault:"100000"`
	PolicyDir          string        `env:"POLICY_DIR" envDefault:"./policies"`
	PolicyQuery        string        `env:"POLICY_QUERY" envDefault:"data.agentidp.authz.decision"`
	PolicyPollInterval time.Duration `env:"POLICY_POLL_INTERVAL" envDefault:"1s"`

	RegistryAddr    string        `env:"REGISTRY_ADDR" envDefault:"127.0.0.1:9101"`
	RegistryTimeout time.Duration `env:"REGISTRY_TIMEOUT" envDefault:"500ms"`
	CredentialsAddr string        `env:"CREDENTIALS_ADDR" envDefault:"127.0.0.1:9102"`
	// AgentLookupTTL: while the registry feed is not live, how long an
	// agent read from the registry is reused (the kill switch's bound then).
	AgentLookupTTL time.Duration `env:"AGENT_LOOKUP_TTL" envDefault:"500ms"`
	// AgentStaleIfError: while the feed and the registry are both down, how
	// long the last known agent states keep serving.
	AgentStaleIfError time.Duration `env:"AGENT_STALE_IF_ERROR" envDefault:"5m"`

	// CheckTimeout bounds the Redis and registry calls of one check (keep
	// it under the gateway's ext_authz timeout).
	CheckTimeout time.Duration `env:"CHECK_TIMEOUT" envDefault:"500ms"`
	// RateLimitReserveWindow: how long a replica keeps rate-limit
	// reservations; 0 charges Redis for every request.
	RateLimitReserveWindow time.Duration `env:"RATE_LIMIT_RESERVE_WINDOW" envDefault:"250ms"`
	AuditStream            string        `env:"AUDIT_STREAM" envDefault:"agentidp:audit"`
}

// Validate checks what parsing cannot, naming the variable at fault.
func (c *Config) Validate() error {
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
		if err := config.CheckAddr(a.name, a.addr); err != nil {
			return err
		}
	}
	if u, err := url.Parse(c.JWKSURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("JWKS_URL: %q is not an http(s) URL", c.JWKSURL)
	}
	for _, caller := range c.ExtAuthzCallers {
		if u, err := url.Parse(mtls.ID(caller)); err != nil {
			return fmt.Errorf("EXTAUTHZ_CALLERS: %q is not a mesh identity", caller)
		} else if _, err := mtls.Name(u); err != nil {
			return fmt.Errorf("EXTAUTHZ_CALLERS: %q is not a mesh identity: %v", caller, err)
		}
	}
	if !c.Mesh.Plaintext() && !strings.HasPrefix(c.JWKSURL, "https://") {
		// The token service's listener speaks mutual TLS in the mesh.
		return fmt.Errorf("JWKS_URL: %q must be https:// when the mesh uses TLS (TLS_CERT_FILE)", c.JWKSURL)
	}
	u, err := url.Parse(c.Issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("ISSUER: %q is not an http(s) URL (it must equal the token service's ISSUER)", c.Issuer)
	}
	c.Issuer = strings.TrimRight(c.Issuer, "/")
	switch {
	case c.Audience == "":
		return errors.New("AUDIENCE: must not be empty")
	case c.ClockSkew < 0 || c.ClockSkew > 5*time.Minute:
		return errors.New("CLOCK_SKEW: must be between 0 and 5m")
	case c.MaxTokenLifetime <= 0:
		return errors.New("MAX_TOKEN_LIFETIME: must be positive")
	case c.JWKSRefresh <= 0 || c.JWKSMinRefresh <= 0:
		return errors.New("JWKS_REFRESH_INTERVAL, JWKS_MIN_REFRESH_INTERVAL: must be positive")
	case c.TokenCacheSize < 64:
		return errors.New("TOKEN_CACHE_SIZE: must be at least 64")
	case c.PolicyQuery == "":
		return errors.New("POLICY_QUERY: must not be empty")
	case c.PolicyPollInterval <= 0:
		return errors.New("POLICY_POLL_INTERVAL: must be positive")
	case c.RegistryTimeout <= 0 || c.CheckTimeout <= 0:
		return errors.New("REGISTRY_TIMEOUT, CHECK_TIMEOUT: must be positive")
	case c.AgentLookupTTL <= 0 || c.AgentLookupTTL > time.Second:
		return errors.New("AGENT_LOOKUP_TTL: must be between 0 and 1s (the kill switch promises a second)")
	case c.AgentStaleIfError < 0:
		return errors.New("AGENT_STALE_IF_ERROR: must not be negative")
	case c.RateLimitReserveWindow < 0 || c.RateLimitReserveWindow > time.Second:
		return errors.New("RATE_LIMIT_RESERVE_WINDOW: must be between 0 and 1s")
	}
	dir, err := filepath.Abs(c.PolicyDir)
	if err != nil {
		return fmt.Errorf("POLICY_DIR: %w", err)
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return fmt.Errorf("POLICY_DIR: %s is not a directory (run from the repository root for ./policies, or set an absolute path)", dir)
	}
	c.PolicyDir = dir
	return nil
}
