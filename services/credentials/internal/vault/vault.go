// Package vault keeps client secrets in HashiCorp Vault's KV v2 engine: one
// path per credential, one KV version per secret version. It checks at
// start-up that Vault answers and that the token may do what the service
// needs, and keeps a renewable token alive.
package vault

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/vault/api"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sentryagent/agentidp/libs/metrics"
	"github.com/sentryagent/agentidp/libs/vaultclient"
	"github.com/sentryagent/agentidp/services/credentials/internal/credential"
	"github.com/sentryagent/agentidp/services/credentials/internal/secret"
)

// The KV data of a secret version holds its verifier, never the secret:
// "sha256$<base64 of SHA-256(secret)>" (the secret package's scheme, tagged
// with its algorithm), the digest verification compares. A reader of Vault
// (an operator, a snapshot, a leaked service token) learns nothing that
// authenticates: the secrets are 256 random bits, so the digest cannot be
// inverted. legacyKey is where versions written before that held the
// secret itself; they are migrated (docs/credentials.md, "Verifiers in
// Vault").
const (
	verifierKey = "verifier"
	legacyKey   = "client_secret"
)

// Config describes the Vault to use.
type Config struct {
	// Addr is VAULT_ADDR. TLS settings come from Vault's usual variables
	// (VAULT_CACERT, VAULT_CLIENT_CERT, ...), read by the Vault client.
	Addr string
	// Token is the static token (VAULT_TOKEN), for the token auth method.
	Token string
	// Auth holds the rest of the login settings (method, Kubernetes role,
	// AllowRootToken); Addr, Token and Timeout above take precedence.
	Auth vaultclient.Config
	// Mount is the KV v2 mount, default "secret".
	Mount string
	// Timeout bounds each request; default 5s.
	Timeout time.Duration
	// Registerer, if set, receives agentidp_vault_request_duration_seconds.
	Registerer prometheus.Registerer
}

// KV is the credentials service's view of a KV v2 mount.
type KV struct {
	vc      *vaultclient.Client
	client  *api.Client
	kv      *api.KVv2
	mount   string
	timeout time.Duration
	latency *prometheus.HistogramVec
}

var _ credential.Vault = (*KV)(nil)

// Connect builds the client (libs/vaultclient: login, and a root token is
// refused unless allowed) and runs the start-up checks: the mount is KV v2,
// and the token holds every capability the service needs under
// agentidp/agents/. Errors name the setting or the capability to fix.
func Connect(ctx context.Context, cfg Config) (*KV, error) {
	if cfg.Mount == "" {
		cfg.Mount = "secret"
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	auth := cfg.Auth
	auth.Addr, auth.Timeout = cfg.Addr, cfg.Timeout
	if cfg.Token != "" {
		auth.Token = cfg.Token
	}
	vc, err := vaultclient.New(ctx, auth)
	if err != nil {
		return nil, err
	}
	client := vc.API()
	k := &KV{vc: vc, client: client, kv: client.KVv2(cfg.Mount), mount: cfg.Mount, timeout: cfg.Timeout}
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
	if err := k.preflight(ctx); err != nil {
		return nil, err
	}
	return k, nil
}

func (k *KV) preflight(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, k.timeout)
	defer cancel()
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

// Write stores the verifier of a secret with digest d as a new version,
// with check-and-set: cas is the version the caller expects to be current
// (0 for a new path).
func (k *KV) Write(ctx context.Context, agentID, credentialID uuid.UUID, d secret.Digest, cas int64) (int64, error) {
	defer k.observe("write", time.Now())
	out, err := k.kv.Put(ctx, relPath(agentID, credentialID), map[string]any{
		verifierKey:     secret.VerifierOf(d),
		"agent_id":      agentID.String(),
		"credential_id": credentialID.String(),
	}, api.WithCheckAndSet(int(cas)))
	if err != nil {
		return 0, wrap("write", err)
	}
	return int64(out.VersionMetadata.Version), nil
}

// ReadDigest reads one version and returns the digest its verifier holds.
// legacy is true for a version written before verifiers (it holds the
// secret itself, which never leaves this function: it is hashed here);
// the caller migrates it. credential.ErrSecretGone when the version is
// deleted, destroyed, absent or holds neither.
func (k *KV) ReadDigest(ctx context.Context, agentID, credentialID uuid.UUID, version int64) (d secret.Digest, legacy bool, err error) {
	defer k.observe("read", time.Now())
	out, err := k.kv.GetVersion(ctx, relPath(agentID, credentialID), int(version))
	if errors.Is(err, api.ErrSecretNotFound) {
		return secret.Digest{}, false, credential.ErrSecretGone
	}
	if err != nil {
		return secret.Digest{}, false, wrap("read", err)
	}
	if v, ok := out.Data[verifierKey].(string); ok {
		d, ok := secret.ParseVerifier(v)
		if !ok {
			return secret.Digest{}, false, fmt.Errorf("vault read: version %d holds a verifier of an unknown scheme", version)
		}
		return d, false, nil
	}
	if s, ok := out.Data[legacyKey].(string); ok {
		return secret.DigestOf(s), true, nil
	}
	return secret.Digest{}, false, credential.ErrSecretGone
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
func (k *KV) Ping(ctx context.Context) error { return wrap("token lookup", k.vc.Ping(ctx)) }

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

// KeepTokenAlive keeps the token usable until ctx ends (libs/vaultclient:
// renewal of renewable and periodic tokens, a new Kubernetes login when
// renewal ends).
func (k *KV) KeepTokenAlive(ctx context.Context) error { return k.vc.KeepAlive(ctx) }
