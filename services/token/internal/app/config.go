package app

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/sentryagent/agentidp/libs/config"
	"github.com/sentryagent/agentidp/libs/vaultclient"
	"github.com/sentryagent/agentidp/services/token/internal/authcache"
	"github.com/sentryagent/agentidp/services/token/internal/keys"
)

// Config is read from the environment (README.md lists every variable).
type Config struct {
	config.Common
	// The mesh identity (libs/mtls): TLS_CERT_FILE, TLS_KEY_FILE, TLS_CA_FILE.
	config.Mesh
	// HTTPAddr is the public listener (/oauth2/*, /.well-known/*, health),
	// behind Envoy.
	HTTPAddr string `env:"HTTP_ADDR" envDefault:"127.0.0.1:9103"`
	// AdminAddr serves /metrics, /healthz and /readyz.
	AdminAddr string `env:"ADMIN_ADDR" envDefault:"127.0.0.1:9203"`
	// RedisURL is the service's only state (redis://host:port/db; go-redis
	// URL options such as pool_size apply).
	RedisURL string `env:"REDIS_URL,required"`

	CredentialsAddr    string        `env:"CREDENTIALS_ADDR" envDefault:"127.0.0.1:9102"`
	CredentialsTimeout time.Duration `env:"CREDENTIALS_TIMEOUT" envDefault:"2s"`
	RegistryAddr       string        `env:"REGISTRY_ADDR" envDefault:"127.0.0.1:9101"`
	RegistryTimeout    time.Duration `env:"REGISTRY_TIMEOUT" envDefault:"2s"`

	// Issuer is the public base URL (the gateway's): the iss claim and the
	// base of every URL in the RFC 8414 metadata.
	Issuer   string        `env:"ISSUER" envDefault:"http://127.0.0.1:8080"`
	Audience string        `env:"AUDIENCE" envDefault:"agentidp"`
	TokenTTL time.Duration `env:"TOKEN_TTL" envDefault:"15m"`
	// ClockSkew is introspection's leeway on exp, nbf and iat: authz's
	// CLOCK_SKEW, so that both agree on when a token is valid.
	ClockSkew  time.Duration `env:"CLOCK_SKEW" envDefault:"30s"`
	SigningAlg string        `env:"SIGNING_ALG" envDefault:"ES256"`

	// Signing keys live in Vault KV v2 when VAULT_ADDR is set, else in an
	// encrypted file under DATA_DIR.
	VaultAddr        string        `env:"VAULT_ADDR"`
	VaultToken       string        `env:"VAULT_TOKEN"`
	VaultMount       string        `env:"VAULT_MOUNT" envDefault:"secret"`
	VaultTimeout     time.Duration `env:"VAULT_TIMEOUT" envDefault:"5s"`
	DataDir          string        `env:"DATA_DIR"`
	KeyEncryptionKey string        `env:"KEY_ENCRYPTION_KEY"`

	// TokenSigning is who signs: "local" (this process, with a key from
	// the store above) or "transit" (Vault's transit engine; the private
	// key never leaves Vault; needs VAULT_ADDR; docs/token.md).
	TokenSigning  string `env:"TOKEN_SIGNING" envDefault:"local"`
	TransitMount  string `env:"TRANSIT_MOUNT" envDefault:"transit"`
	TransitKey    string `env:"TRANSIT_KEY" envDefault:"agentidp-token"`
	TransitRotate bool   `env:"TRANSIT_ROTATE" envDefault:"true"`

	// Vault holds the login settings: VAULT_AUTH_METHOD (token, or
	// kubernetes with VAULT_K8S_ROLE, VAULT_K8S_MOUNT, VAULT_K8S_JWT_PATH)
	// and VAULT_ALLOW_ROOT_TOKEN (development only).
	Vault vaultclient.Settings

	KeyRotationInterval time.Duration `env:"KEY_ROTATION_INTERVAL" envDefault:"24h"`
	KeyPrepublish       time.Duration `env:"KEY_PREPUBLISH" envDefault:"1h"`
	KeyReloadInterval   time.Duration `env:"KEY_RELOAD_INTERVAL" envDefault:"30s"`
	JWKSMaxAge          time.Duration `env:"JWKS_MAX_AGE" envDefault:"5m"`

	// Per-client limit on authenticated requests to the endpoints that
	// authenticate clients; 0 turns it off.
	RateLimitPerSecond float64 `env:"RATE_LIMIT_PER_SECOND" envDefault:"10"`
	RateLimitBurst     int     `env:"RATE_LIMIT_BURST" envDefault:"20"`
	// Limits on failed client authentications per (client_id, source
	// address) and per source address; 0 turns one off (docs/token.md).
	AuthFailureLimitPerSecond       float64 `env:"AUTH_FAILURE_LIMIT_PER_SECOND" envDefault:"1"`
	AuthFailureLimitBurst           int     `env:"AUTH_FAILURE_LIMIT_BURST" envDefault:"10"`
	SourceAuthFailureLimitPerSecond float64 `env:"SOURCE_AUTH_FAILURE_LIMIT_PER_SECOND" envDefault:"5"`
	SourceAuthFailureLimitBurst     int     `env:"SOURCE_AUTH_FAILURE_LIMIT_BURST" envDefault:"50"`
	// UnknownClientCacheTTL: how long a replica remembers a client id that
	// names no agent (0 turns the negative cache off), at most
	// UnknownClientCacheSize of them.
	UnknownClientCacheTTL  time.Duration `env:"UNKNOWN_CLIENT_CACHE_TTL" envDefault:"30s"`
	UnknownClientCacheSize int           `env:"UNKNOWN_CLIENT_CACHE_SIZE" envDefault:"65536"`

	// CacheKey keys the HMAC naming cached authentications (base64, ≥ 32
	// bytes); unset: one is kept with the signing keys.
	CacheKey          string        `env:"CACHE_KEY"`
	CacheTTL          time.Duration `env:"CACHE_TTL" envDefault:"5m"`
	CacheStaleIfError time.Duration `env:"CACHE_STALE_IF_ERROR" envDefault:"15m"`
	// AuditStream is the Redis stream the audit service consumes
	// (libs/auditlog): token.issued, token.denied, token.revoked.
	AuditStream string `env:"AUDIT_STREAM" envDefault:"agentidp:audit"`
	// LocalCacheTTL: how long a replica reuses a Redis lookup from memory
	// (0 turns it off); at most 1s, the kill-switch promise.
	LocalCacheTTL time.Duration `env:"LOCAL_CACHE_TTL" envDefault:"500ms"`
}

// TOKEN_SIGNING values.
const (
	SigningLocal   = "local"
	SigningTransit = "transit"
)

// Validate checks what parsing cannot, naming the variable at fault.
func (c *Config) Validate() error {
	if err := c.Common.Validate(); err != nil {
		return err
	}
	if err := c.Mesh.Validate(); err != nil {
		return err
	}
	for _, a := range []struct{ name, addr string }{
		{"HTTP_ADDR", c.HTTPAddr}, {"ADMIN_ADDR", c.AdminAddr},
		{"CREDENTIALS_ADDR", c.CredentialsAddr}, {"REGISTRY_ADDR", c.RegistryAddr},
	} {
		if err := config.CheckAddr(a.name, a.addr); err != nil {
			return err
		}
	}
	u, err := url.Parse(c.Issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("ISSUER: %q is not an http(s) URL without query or fragment", c.Issuer)
	}
	c.Issuer = strings.TrimRight(c.Issuer, "/")
	switch {
	case c.Audience == "":
		return errors.New("AUDIENCE: must not be empty")
	case c.TokenTTL < time.Second || c.TokenTTL > 24*time.Hour:
		return errors.New("TOKEN_TTL: must be between 1s and 24h")
	case c.SigningAlg != keys.ES256 && c.SigningAlg != keys.EdDSA:
		return fmt.Errorf("SIGNING_ALG: %q is not one of ES256, EdDSA", c.SigningAlg)
	case c.CredentialsTimeout <= 0 || c.RegistryTimeout <= 0 || c.VaultTimeout <= 0:
		return errors.New("CREDENTIALS_TIMEOUT, REGISTRY_TIMEOUT, VAULT_TIMEOUT: must be positive")
	case c.VaultAddr != "" && c.Vault.AuthMethod == vaultclient.AuthToken && c.VaultToken == "":
		return errors.New("VAULT_TOKEN: required when VAULT_ADDR is set (or set VAULT_AUTH_METHOD=kubernetes)")
	case c.VaultAddr != "" && c.Vault.Config(c.VaultAddr, c.VaultToken, c.VaultTimeout, nil).Validate() != nil:
		return c.Vault.Config(c.VaultAddr, c.VaultToken, c.VaultTimeout, nil).Validate()
	case c.VaultAddr == "" && c.VaultToken != "":
		return errors.New("VAULT_ADDR: VAULT_TOKEN is set but VAULT_ADDR is not")
	case c.VaultAddr == "" && (c.DataDir == "" || c.KeyEncryptionKey == ""):
		return errors.New("DATA_DIR, KEY_ENCRYPTION_KEY: signing keys need a store: set VAULT_ADDR and VAULT_TOKEN (Vault KV v2), " +
			"or DATA_DIR and KEY_ENCRYPTION_KEY (an AES-256-GCM encrypted file; e.g. KEY_ENCRYPTION_KEY=$(openssl rand -base64 32))")
	case c.VaultMount == "":
		return errors.New("VAULT_MOUNT: must not be empty")
	case c.TokenSigning != SigningLocal && c.TokenSigning != SigningTransit:
		return fmt.Errorf("TOKEN_SIGNING: %q is not one of local, transit", c.TokenSigning)
	case c.TokenSigning == SigningTransit && c.VaultAddr == "":
		return errors.New("VAULT_ADDR: TOKEN_SIGNING=transit signs with Vault's transit engine: set VAULT_ADDR and VAULT_TOKEN")
	case c.TokenSigning == SigningTransit && c.SigningAlg != keys.ES256:
		return fmt.Errorf("SIGNING_ALG: TOKEN_SIGNING=transit signs ES256 only, not %q", c.SigningAlg)
	case c.TokenSigning == SigningTransit && (strings.Trim(c.TransitMount, "/") == "" || c.TransitKey == "" || strings.Contains(c.TransitKey, "/")):
		return errors.New("TRANSIT_MOUNT, TRANSIT_KEY: a transit mount path and a key name (without /) are required")
	case c.KeyReloadInterval <= 0 || c.JWKSMaxAge < 0:
		return errors.New("KEY_RELOAD_INTERVAL must be positive, JWKS_MAX_AGE not negative")
	case c.KeyPrepublish < c.JWKSMaxAge+c.KeyReloadInterval:
		return fmt.Errorf("KEY_PREPUBLISH: must be at least JWKS_MAX_AGE + KEY_RELOAD_INTERVAL (%s), so that every verifier has fetched a key before it signs",
			c.JWKSMaxAge+c.KeyReloadInterval)
	case c.KeyRotationInterval <= c.KeyPrepublish:
		return errors.New("KEY_ROTATION_INTERVAL: must be longer than KEY_PREPUBLISH")
	case c.RateLimitPerSecond < 0:
		return errors.New("RATE_LIMIT_PER_SECOND: must not be negative")
	case c.RateLimitPerSecond > 0 && c.RateLimitBurst < 1:
		return errors.New("RATE_LIMIT_BURST: must be at least 1")
	case c.AuthFailureLimitPerSecond < 0:
		return errors.New("AUTH_FAILURE_LIMIT_PER_SECOND: must not be negative")
	case c.AuthFailureLimitPerSecond > 0 && c.AuthFailureLimitBurst < 1:
		return errors.New("AUTH_FAILURE_LIMIT_BURST: must be at least 1")
	case c.SourceAuthFailureLimitPerSecond < 0:
		return errors.New("SOURCE_AUTH_FAILURE_LIMIT_PER_SECOND: must not be negative")
	case c.SourceAuthFailureLimitPerSecond > 0 && c.SourceAuthFailureLimitBurst < 1:
		return errors.New("SOURCE_AUTH_FAILURE_LIMIT_BURST: must be at least 1")
	case c.UnknownClientCacheTTL < 0:
		return errors.New("UNKNOWN_CLIENT_CACHE_TTL: must not be negative")
	case c.UnknownClientCacheTTL > 0 && c.UnknownClientCacheSize < 1:
		return errors.New("UNKNOWN_CLIENT_CACHE_SIZE: must be at least 1")
	case c.CacheTTL <= 0 || c.CacheStaleIfError < 0:
		return errors.New("CACHE_TTL must be positive, CACHE_STALE_IF_ERROR not negative")
	case c.LocalCacheTTL < 0 || c.LocalCacheTTL > time.Second:
		return errors.New("LOCAL_CACHE_TTL: must be between 0 and 1s (invalidation must take effect within a second)")
	}
	if c.VaultAddr == "" {
		if _, err := c.kek(); err != nil {
			return err
		}
	}
	if c.CacheKey != "" {
		if _, err := c.cacheKey(); err != nil {
			return err
		}
	}
	return nil
}

// failures are the limits on failed client authentications (nil: none).
func (c *Config) failures() *authcache.Failures {
	f := &authcache.Failures{}
	if c.AuthFailureLimitPerSecond > 0 {
		f.Pair = &authcache.Rate{PerSecond: c.AuthFailureLimitPerSecond, Burst: c.AuthFailureLimitBurst}
	}
	if c.SourceAuthFailureLimitPerSecond > 0 {
		f.Source = &authcache.Rate{PerSecond: c.SourceAuthFailureLimitPerSecond, Burst: c.SourceAuthFailureLimitBurst}
	}
	if f.Pair == nil && f.Source == nil {
		return nil
	}
	return f
}

// retention: a key stays published after it stopped signing for the
// longest token lifetime, plus a reload interval (a replica that has not
// seen its successor yet still signs with it) and a clock-skew margin.
func (c *Config) retention() time.Duration { return c.TokenTTL + c.KeyReloadInterval + time.Minute }

func (c *Config) kek() ([]byte, error) {
	b, err := decodeKey(c.KeyEncryptionKey)
	if err != nil || len(b) != 32 {
		return nil, errors.New("KEY_ENCRYPTION_KEY: must be 32 bytes, base64-encoded (openssl rand -base64 32)")
	}
	return b, nil
}

func (c *Config) cacheKey() ([]byte, error) {
	if c.CacheKey == "" {
		return nil, nil
	}
	b, err := decodeKey(c.CacheKey)
	if err != nil || len(b) < 32 {
		return nil, errors.New("CACHE_KEY: must be at least 32 bytes, base64-encoded")
	}
	return b, nil
}

func decodeKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(strings.TrimSpace(s)); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}
