// Package vaultclient builds the HashiCorp Vault client of the services
// that use Vault (credentials: client secret verifiers; token: signing
// keys), logs in, refuses a root token outside development, and keeps the
// token alive: it renews renewable and periodic tokens with Vault's
// LifetimeWatcher and, with the Kubernetes auth method, logs in again when
// the token can no longer be renewed.
//
// It is the official client (github.com/hashicorp/vault/api) and its
// Kubernetes login helper (github.com/hashicorp/vault/api/auth/kubernetes),
// so TLS and the other client settings come from Vault's usual variables
// (VAULT_CACERT, VAULT_CLIENT_CERT, VAULT_CLIENT_KEY, VAULT_NAMESPACE, ...),
// read as the vault CLI reads them.
package vaultclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
	k8sauth "github.com/hashicorp/vault/api/auth/kubernetes"
)

// Auth methods.
const (
	AuthToken      = "token"      // a static token (VAULT_TOKEN): development, or a token an operator renews
	AuthKubernetes = "kubernetes" // the pod's service account JWT, exchanged at auth/<mount>/login
)

// DefaultJWTPath is where Kubernetes mounts a pod's service account token.
const DefaultJWTPath = "/var/run/secrets/kubernetes.io/serviceaccount/token"

// Config says how to reach and log in to Vault. The services read it from
// VAULT_ADDR, VAULT_AUTH_METHOD, VAULT_TOKEN, VAULT_K8S_ROLE,
// VAULT_K8S_MOUNT, VAULT_K8S_JWT_PATH and VAULT_ALLOW_ROOT_TOKEN.
type Config struct {
	Addr string
	// Timeout bounds each request; default 5s.
	Timeout time.Duration
	// AuthMethod is AuthToken (default) or AuthKubernetes.
	AuthMethod string
	// Token is the static token (AuthToken).
	Token string
	// KubernetesRole is the Vault role to log in as (AuthKubernetes);
	// KubernetesMount the auth mount (default "kubernetes"); JWTPath the
	// service account token file (default DefaultJWTPath; read at every
	// login, since the kubelet rotates projected tokens).
	KubernetesRole  string
	KubernetesMount string
	JWTPath         string
	// AllowRootToken accepts a root token. Production refuses one: a root
	// token can read and rewrite everything in Vault, so a service holding
	// it turns any compromise of the service into one of Vault. Only local
	// development (VAULT_ALLOW_ROOT_TOKEN=true) sets it.
	AllowRootToken bool
	// Logger receives renewal and login events (never a token).
	Logger *slog.Logger
}

// Validate checks the settings, naming the variable at fault.
func (c Config) Validate() error {
	switch c.AuthMethod {
	case "", AuthToken:
		if c.Token == "" {
			return errors.New("VAULT_TOKEN: required with VAULT_AUTH_METHOD=token")
		}
	case AuthKubernetes:
		if c.KubernetesRole == "" {
			return errors.New("VAULT_K8S_ROLE: required with VAULT_AUTH_METHOD=kubernetes")
		}
	default:
		return fmt.Errorf("VAULT_AUTH_METHOD: %q is not token or kubernetes", c.AuthMethod)
	}
	return nil
}

// Client is a logged-in Vault client.
type Client struct {
	api    *vaultapi.Client
	cfg    Config
	logger *slog.Logger
}

// New builds the client, logs in, and checks the token (lookup-self: it is
// valid, and it is not a root token unless AllowRootToken). Errors name the
// setting to fix and never contain the token.
func New(ctx context.Context, cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.AuthMethod == "" {
		cfg.AuthMethod = AuthToken
	}
	if cfg.KubernetesMount == "" {
		cfg.KubernetesMount = "kubernetes"
	}
	if cfg.JWTPath == "" {
		cfg.JWTPath = DefaultJWTPath
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	conf := vaultapi.DefaultConfig()
	if conf.Error != nil {
		return nil, fmt.Errorf("vault: client settings (VAULT_CACERT, ...): %w", conf.Error)
	}
	conf.Address = cfg.Addr
	conf.Timeout = cfg.Timeout
	// No automatic retries: callers decide (a failed call surfaces at once,
	// and a check-and-set write is never sent twice behind their back).
	conf.MaxRetries = 0
	api, err := vaultapi.NewClient(conf)
	if err != nil {
		return nil, fmt.Errorf("vault: VAULT_ADDR %q: %w", cfg.Addr, err)
	}
	api.ClearToken() // NewClient picks up VAULT_TOKEN from the environment; only cfg decides
	c := &Client{api: api, cfg: cfg, logger: logger}
	if err := c.authenticate(ctx); err != nil {
		return nil, err
	}
	if err := c.checkToken(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// API is the underlying client; its token is kept current by KeepAlive.
func (c *Client) API() *vaultapi.Client { return c.api }

// authenticate sets the client's token: the static one, or a fresh one
// from a Kubernetes login.
func (c *Client) authenticate(ctx context.Context) error {
	if c.cfg.AuthMethod == AuthToken {
		c.api.SetToken(c.cfg.Token)
		return nil
	}
	auth, err := k8sauth.NewKubernetesAuth(c.cfg.KubernetesRole,
		k8sauth.WithServiceAccountTokenPath(c.cfg.JWTPath), k8sauth.WithMountPath(c.cfg.KubernetesMount))
	if err != nil {
		return fmt.Errorf("vault: kubernetes auth: %w", err)
	}
	// Log in on a clone without a token: requests in flight keep the old
	// token until the new one is set.
	lc, err := c.api.Clone()
	if err != nil {
		return err
	}
	lc.ClearToken()
	lctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	s, err := lc.Auth().Login(lctx, auth)
	if err != nil {
		return fmt.Errorf("vault: kubernetes login as role %q at auth/%s (VAULT_K8S_ROLE, VAULT_K8S_MOUNT, VAULT_K8S_JWT_PATH %s): %w",
			c.cfg.KubernetesRole, c.cfg.KubernetesMount, c.cfg.JWTPath, err)
	}
	if s == nil || s.Auth == nil {
		return errors.New("vault: kubernetes login answered no token")
	}
	c.api.SetToken(s.Auth.ClientToken)
	c.logger.Info("logged in to vault", "method", "kubernetes", "role", c.cfg.KubernetesRole,
		"ttl", (time.Duration(s.Auth.LeaseDuration) * time.Second).String(), "renewable", s.Auth.Renewable)
	return nil
}

// checkToken looks the token up: it must be valid and, unless allowed,
// not a root token.
func (c *Client) checkToken(ctx context.Context) error {
	lctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	self, err := c.api.Auth().Token().LookupSelfWithContext(lctx)
	if err != nil {
		var re *vaultapi.ResponseError
		if errors.As(err, &re) {
			return fmt.Errorf("vault: VAULT_TOKEN is not valid for %s (token lookup-self answered %d)", c.cfg.Addr, re.StatusCode)
		}
		return fmt.Errorf("vault: cannot reach VAULT_ADDR %s: %w", c.cfg.Addr, err)
	}
	policies, _ := self.TokenPolicies()
	if slices.Contains(policies, "root") && !c.cfg.AllowRootToken {
		return errors.New("vault: the token is a root token (its policies include \"root\"); refusing it: a root token " +
			"can read and rewrite all of Vault. Give the service a periodic token with its own policy, or use the " +
			"Kubernetes auth method (docs/deploy.md, \"Vault\"); only local development may set VAULT_ALLOW_ROOT_TOKEN=true")
	}
	return nil
}

// KeepAlive keeps the token usable until ctx ends: it renews a renewable
// (or periodic) token with Vault's LifetimeWatcher; when the token can no
// longer be renewed (max TTL reached, renewal refused, token revoked) it
// logs in again with the Kubernetes auth method, or, with a static token,
// logs an error and looks again later (an operator may extend the token).
// A static token that is not renewable (a root token, a batch token) is
// used as is.
func (c *Client) KeepAlive(ctx context.Context) error {
	backoff := time.Second
	for ctx.Err() == nil {
		err := c.watch(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			backoff = time.Second
		}
		if c.cfg.AuthMethod == AuthKubernetes {
			if err != nil {
				c.logger.Warn("vault token renewal stopped; logging in again", "error", err)
			}
			if lerr := c.authenticate(ctx); lerr != nil {
				c.logger.Error("vault login failed; retrying", "error", lerr, "retry_in", backoff.String())
				if !sleep(ctx, backoff) {
					return nil
				}
				backoff = min(2*backoff, 30*time.Second)
			}
			continue
		}
		if err != nil {
			c.logger.Error("vault token renewal stopped; requests fail once the token expires", "error", err)
		}
		if !sleep(ctx, 30*time.Second) {
			return nil
		}
	}
	return nil
}

// watch renews the current token until renewal ends (nil: it cannot be
// renewed any further) or ctx ends.
func (c *Client) watch(ctx context.Context) error {
	lctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	self, err := c.api.Auth().Token().LookupSelfWithContext(lctx)
	cancel()
	if err != nil {
		return fmt.Errorf("lookup-self: %w", err)
	}
	renewable, _ := self.TokenIsRenewable()
	ttl, _ := self.TokenTTL()
	if ttl == 0 {
		// Never expires (a root token): nothing to do.
		c.logger.Info("vault token does not expire; it is used as is")
		<-ctx.Done()
		return nil
	}
	if !renewable {
		if c.cfg.AuthMethod == AuthKubernetes {
			// Log in again shortly before it expires.
			c.logger.Info("vault token is not renewable; logging in again before it expires", "ttl", ttl.String())
			sleep(ctx, ttl*2/3)
			return nil
		}
		c.logger.Info("vault token is not renewable; it is used as is", "ttl", ttl.String())
		<-ctx.Done()
		return nil
	}
	w, err := c.api.NewLifetimeWatcher(&vaultapi.LifetimeWatcherInput{Secret: &vaultapi.Secret{Auth: &vaultapi.SecretAuth{
		ClientToken: c.api.Token(), Renewable: true, LeaseDuration: int(ttl.Seconds()),
	}}})
	if err != nil {
		return err
	}
	go w.Start()
	defer w.Stop()
	c.logger.Info("renewing the vault token", "ttl", ttl.String())
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-w.DoneCh():
			return err
		case r := <-w.RenewCh():
			if r != nil && r.Secret != nil && r.Secret.Auth != nil {
				c.logger.Debug("vault token renewed", "ttl_seconds", r.Secret.Auth.LeaseDuration)
			}
		}
	}
}

// Ping checks that Vault answers and the token is valid (readiness).
func (c *Client) Ping(ctx context.Context) error {
	_, err := c.api.Auth().Token().LookupSelfWithContext(ctx)
	return err
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Settings are the login settings a service reads from its environment
// (embed it in the service's config; libs/config parses the tags). VAULT_ADDR,
// VAULT_TOKEN and VAULT_TIMEOUT stay the service's own fields.
type Settings struct {
	AuthMethod      string `env:"VAULT_AUTH_METHOD" envDefault:"token"`
	KubernetesRole  string `env:"VAULT_K8S_ROLE"`
	KubernetesMount string `env:"VAULT_K8S_MOUNT" envDefault:"kubernetes"`
	JWTPath         string `env:"VAULT_K8S_JWT_PATH" envDefault:"/var/run/secrets/kubernetes.io/serviceaccount/token"`
	AllowRootToken  bool   `env:"VAULT_ALLOW_ROOT_TOKEN" envDefault:"false"`
}

// Config returns the client configuration of these settings.
func (s Settings) Config(addr, token string, timeout time.Duration, logger *slog.Logger) Config {
	return Config{Addr: addr, Token: token, Timeout: timeout, AuthMethod: s.AuthMethod,
		KubernetesRole: s.KubernetesRole, KubernetesMount: s.KubernetesMount, JWTPath: s.JWTPath,
		AllowRootToken: s.AllowRootToken, Logger: logger}
}
