// Package vault keeps client secrets in HashiCorp Vault's KV v2 engine: one
// path per credential, one KV version per secret version. It checks at
// start-up that Vault answers and that the token may do what the service
// needs, and keeps a renewable token alive.
package vault

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/vault/api"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sentryagent/agentidp/libs/metrics"
	"github.com/sentryagent/agentidp/services/credentials/internal/credential"
	"github.com/sentryagent/agentidp/services/credentials/internal/secret"
)

// secretKey is the field of the KV data that holds the secret.
const secretKey = "client_secret"

// Config describes the Vault to use.
type Config struct {
	// Addr is VAULT_ADDR. TLS settings come from Vault's usual variables
	// (VAULT_CACERT, VAULT_CLIENT_CERT, ...), read by the Vault client.
	Addr  string
	Token string
	// Mount is the KV v2 mount, default "secret".
	Mount string
	// Timeout bounds each request; default 5s.
	Timeout time.Duration
	// Registerer, if set, receives agentidp_vault_request_duration_seconds.
	Registerer prometheus.Registerer
}

// KV is the credentials service's view of a KV v2 mount.
type KV struct {
	client  *api.Client
	kv      *api.KVv2
	mount   string
	timeout time.Duration
	latency *prometheus.HistogramVec
}

var _ credential.Vault = (*KV)(nil)

// Connect builds the client and runs the start-up checks: Vault answers,
// the token is valid, the mount is KV v2, and the token holds every
// capability the service needs under agentidp/agents/. Errors name the
// setting or the capability to fix.
func Connect(ctx context.Context, cfg Config) (*KV, error) {
	if cfg.Mount == "" {
		cfg.Mount = "secret"
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	conf := api.DefaultConfig()
	if conf.Error != nil {
		return nil, fmt.Errorf("vault: client settings (VAULT_CACERT, ...): %w", conf.Error)
	}
	conf.Address = cfg.Addr
	conf.Timeout = cfg.Timeout
	// No automatic retries: a failed call surfaces at once as UNAVAILABLE,
	// and a write is never sent twice behind our back.
	conf.MaxRetries = 0
	client, err := api.NewClient(conf)
	if err != nil {
		return nil, fmt.Errorf("vault: VAULT_ADDR %q: %w", cfg.Addr, err)
	}
	client.SetToken(cfg.Token)
	k := &KV{client: client, kv: client.KVv2(cfg.Mount), mount: cfg.Mount, timeout: cfg.Timeout}
	if cfg.Registerer != nil {
		k.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: metrics.Namespace, Name: "vault_request_duration_seconds",
			Help:    "Latency of Vault requests, by operation.",
			Buckets: metrics.LatencyBuckets,
		}, []string{"operation"})
		if err := cfg.Registerer.Register(k.latency); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, err
			}
			k.latency = are.ExistingCollector.(*prometheus.HistogramVec)
		}
	}
	if err := k.preflight(ctx, cfg.Addr); err != nil {
		return nil, err
	}
	return k, nil
}

func (k *KV) preflight(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, k.timeout)
	defer cancel()
	if _, err := k.client.Auth().Token().LookupSelfWithContext(ctx); err != nil {
		var re *api.ResponseError
		if errors.As(err, &re) {
			return fmt.Errorf("vault: VAULT_TOKEN is not valid for %s (token lookup-self answered %d)", addr, re.StatusCode)
		}
		return fmt.Errorf("vault: cannot reach VAULT_ADDR %s: %w", addr, err)
	}
	mount, err := k.client.Logical().ReadWithContext(ctx, "sys/internal/ui/mounts/"+k.mount)
	if err != nil || mount == nil {
		return fmt.Errorf("vault: VAULT_MOUNT %q is not a mount the token can use (%v)", k.mount, err)
	}
	typ, _ := mount.Data["type"].(string)
	opts, _ := mount.Data["options"].(map[string]any)
	if version, _ := opts["version"].(string); typ != "kv" || version != "2" {
		return fmt.Errorf("vault: VAULT_MOUNT %q is %s version %v, want a KV version 2 mount", k.mount, typ, opts["version"])
	}
	// A probe path stands for every agentidp/agents/*/credentials/* path.
	probe := relPath(uuid.Nil, uuid.Nil)
	for _, need := range []struct {
		area string
		caps []string
	}{
		{"data", []string{"create", "read", "update"}},
		{"metadata", []string{"read", "delete"}},
		{"destroy", []string{"update"}},
	} {
		path := k.mount + "/" + need.area + "/" + probe
		have, err := k.client.Sys().CapabilitiesSelfWithContext(ctx, path)
		if err != nil {
			return fmt.Errorf("vault: cannot check the token's capabilities (sys/capabilities-self): %w", err)
		}
		if slices.Contains(have, "root") {
			return nil
		}
		var missing []string
		for _, c := range need.caps {
			if !slices.Contains(have, c) {
				missing = append(missing, c)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("vault: VAULT_TOKEN lacks capabilities %v on %s/%s/agentidp/agents/*/credentials/* (has %v); see docs/credentials.md for the policy",
				missing, k.mount, need.area, have)
		}
	}
	return nil
}

// relPath is a credential's path inside the mount.
func relPath(agentID, credentialID uuid.UUID) string {
	return "agentidp/agents/" + agentID.String() + "/credentials/" + credentialID.String()
}

// Path returns the credential's logical path, mount included.
func (k *KV) Path(agentID, credentialID uuid.UUID) string {
	return k.mount + "/" + relPath(agentID, credentialID)
}

// Write stores s as a new version with check-and-set: cas is the version
// the caller expects to be current (0 for a new path).
func (k *KV) Write(ctx context.Context, agentID, credentialID uuid.UUID, s secret.Plaintext, cas int64) (int64, error) {
	defer k.observe("write", time.Now())
	out, err := k.kv.Put(ctx, relPath(agentID, credentialID), map[string]any{
		secretKey:       s.Reveal(),
		"agent_id":      agentID.String(),
		"credential_id": credentialID.String(),
	}, api.WithCheckAndSet(int(cas)))
	if err != nil {
		return 0, wrap("write", err)
	}
	return int64(out.VersionMetadata.Version), nil
}

// ReadDigest reads one version and returns the SHA-256 of its secret; the
// plaintext never leaves this function. credential.ErrSecretGone when the
// version is deleted, destroyed or absent.
func (k *KV) ReadDigest(ctx context.Context, agentID, credentialID uuid.UUID, version int64) (secret.Digest, error) {
	defer k.observe("read", time.Now())
	out, err := k.kv.GetVersion(ctx, relPath(agentID, credentialID), int(version))
	if errors.Is(err, api.ErrSecretNotFound) {
		return secret.Digest{}, credential.ErrSecretGone
	}
	if err != nil {
		return secret.Digest{}, wrap("read", err)
	}
	s, ok := out.Data[secretKey].(string)
	if !ok {
		return secret.Digest{}, credential.ErrSecretGone
	}
	return secret.DigestOf(s), nil
}

// Versions returns the path's current version number (0 if the path does
// not exist) and every version that is not destroyed.
func (k *KV) Versions(ctx context.Context, agentID, credentialID uuid.UUID) (int64, []int64, error) {
	defer k.observe("metadata", time.Now())
	md, err := k.kv.GetMetadata(ctx, relPath(agentID, credentialID))
	if errors.Is(err, api.ErrSecretNotFound) {
		return 0, nil, nil
	}
	if err != nil {
		return 0, nil, wrap("read metadata", err)
	}
	var live []int64
	for key, v := range md.Versions {
		n, err := strconv.ParseInt(key, 10, 64)
		if err == nil && !v.Destroyed {
			live = append(live, n)
		}
	}
	slices.Sort(live)
	return int64(md.CurrentVersion), live, nil
}

// Destroy permanently removes the given versions' data.
func (k *KV) Destroy(ctx context.Context, agentID, credentialID uuid.UUID, versions []int64) error {
	if len(versions) == 0 {
		return nil
	}
	defer k.observe("destroy", time.Now())
	vs := make([]int, len(versions))
	for i, v := range versions {
		vs[i] = int(v)
	}
	return wrap("destroy", k.kv.Destroy(ctx, relPath(agentID, credentialID), vs))
}

// DeleteAll removes the path with every version and its metadata.
func (k *KV) DeleteAll(ctx context.Context, agentID, credentialID uuid.UUID) error {
	defer k.observe("delete", time.Now())
	return wrap("delete", k.kv.DeleteMetadata(ctx, relPath(agentID, credentialID)))
}

// Ping checks that Vault answers and the token is still valid (readiness).
func (k *KV) Ping(ctx context.Context) error {
	_, err := k.client.Auth().Token().LookupSelfWithContext(ctx)
	return wrap("token lookup", err)
}

func (k *KV) observe(op string, start time.Time) {
	if k.latency != nil {
		k.latency.WithLabelValues(op).Observe(time.Since(start).Seconds())
	}
}

// Error is a failed Vault request.
type Error struct {
	Op  string
	Err error
	// answered: Vault processed the request and refused it; refused: the
	// connection was refused, so the request never reached Vault.
	answered, refused bool
}

func (e *Error) Error() string { return "vault " + e.Op + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// NotApplied reports whether the request certainly changed nothing in
// Vault. After any other failure (a timeout, a reset connection) a write
// may or may not have landed, and only the reconciler may clean it up.
func (e *Error) NotApplied() bool { return e.answered || e.refused }

func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var re *api.ResponseError
	return &Error{Op: op, Err: err, answered: errors.As(err, &re), refused: errors.Is(err, syscall.ECONNREFUSED)}
}

// KeepTokenAlive renews the token with Vault's LifetimeWatcher while it is
// renewable, until ctx ends. A token that is not renewable (e.g. a root or
// periodic-less batch token) is left alone. When renewal stops (max TTL
// reached, token revoked) it logs an error and retries from a fresh lookup,
// so a token that an operator extends is picked up again.
func (k *KV) KeepTokenAlive(ctx context.Context, logger *slog.Logger) error {
	for ctx.Err() == nil {
		if err := k.watchToken(ctx, logger); err != nil {
			logger.Error("vault token renewal stopped; readiness fails once the token expires", "error", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(30 * time.Second):
		}
	}
	return nil
}

func (k *KV) watchToken(ctx context.Context, logger *slog.Logger) error {
	lctx, cancel := context.WithTimeout(ctx, k.timeout)
	self, err := k.client.Auth().Token().LookupSelfWithContext(lctx)
	cancel()
	if err != nil {
		return fmt.Errorf("lookup-self: %w", err)
	}
	renewable, _ := self.TokenIsRenewable()
	ttl, _ := self.TokenTTL()
	if !renewable || ttl == 0 {
		logger.Info("vault token is not renewable; it is used as is", "ttl", ttl.String())
		<-ctx.Done()
		return nil
	}
	w, err := k.client.NewLifetimeWatcher(&api.LifetimeWatcherInput{Secret: &api.Secret{Auth: &api.SecretAuth{
		ClientToken: k.client.Token(), Renewable: true, LeaseDuration: int(ttl.Seconds()),
	}}})
	if err != nil {
		return err
	}
	go w.Start()
	defer w.Stop()
	logger.Info("renewing the vault token", "ttl", ttl.String())
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-w.DoneCh():
			if err == nil {
				err = errors.New("the token cannot be renewed any further (max TTL)")
			}
			return err
		case r := <-w.RenewCh():
			if r != nil && r.Secret != nil && r.Secret.Auth != nil {
				logger.Debug("vault token renewed", "ttl_seconds", r.Secret.Auth.LeaseDuration)
			}
		}
	}
}
