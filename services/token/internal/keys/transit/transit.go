// Package transit signs the token service's access tokens with HashiCorp
// Vault's transit engine: the ES256 private key is created inside Vault,
// is not exportable, and never reaches this process. The JWKS is built
// from the public keys transit publishes for each key version; rotation is
// transit's rotate, on the same schedule as the stored keys
// (internal/keys: Interval, Prepublish, Retention).
//
// Schedule. Vault keeps each version's creation time, so every replica
// derives the same schedule from the key alone, with nothing else stored:
// the oldest version the key holds signs from its creation (on a first
// start no token exists yet that a verifier could miss), every later one
// from its creation + Prepublish (published before it signs), and a
// version is withdrawn from the JWKS once its successor has signed for
// Retention (every token it signed has expired). A replica rotates when
// the signing version is due within Prepublish; two replicas rotating at
// the same moment create two versions, which is harmless (both are
// published before either signs).
package transit

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/hashicorp/vault/api"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sentryagent/agentidp/libs/metrics"
	"github.com/sentryagent/agentidp/services/token/internal/keys"
)

// KeyType is the transit key type of ES256 (JWS alg ES256 is ECDSA P-256
// with SHA-256).
const KeyType = "ecdsa-p256"

// idleConns is how many idle connections to Vault the client keeps.
const idleConns = 64

// Config configures a Source.
type Config struct {
	// Client is the token service's Vault client (VAULT_ADDR, its token).
	Client *api.Client
	Mount  string // TRANSIT_MOUNT; default "transit"
	Key    string // TRANSIT_KEY
	// Policy is the rotation schedule (Alg is ignored: always ES256).
	Policy keys.Policy
	// Rotate lets this replica rotate the key on schedule (the Vault
	// policy then grants transit/keys/<key>/rotate); false leaves rotation
	// to Vault (auto_rotate_period) or an operator.
	Rotate bool
	// Reload is how often the key is re-read (and rotated when due).
	Reload time.Duration
	// CacheKey is the client-authentication cache's HMAC key (kept in the
	// key store's document, see app).
	CacheKey []byte
	// Legacy, when set, returns keys that signed before the switch to
	// transit: published (verify-only) until they are withdrawn.
	Legacy func() *keys.Set
	Logger *slog.Logger
	// Registerer receives agentidp_token_signing_keys,
	// agentidp_token_key_store_errors_total and
	// agentidp_token_transit_sign_seconds and
	// agentidp_token_transit_sign_errors_total; nil registers nothing.
	Registerer prometheus.Registerer
	Now        func() time.Time // default time.Now
}

// Source is an issuer.KeySource over a transit key.
type Source struct {
	cfg       Config
	set       atomic.Pointer[keys.Set]
	published prometheus.Gauge
	errors    prometheus.Counter
	signTime  prometheus.Histogram
	signFails prometheus.Counter
	// seen is the key's versions at the last install, to log changes.
	seen atomic.Pointer[string]
}

// New returns a Source; call Sync before serving, then Run.
func New(cfg Config) (*Source, error) {
	if cfg.Client == nil || cfg.Key == "" {
		return nil, errors.New("transit: a Vault client and a key name are required")
	}
	if cfg.Mount == "" {
		cfg.Mount = "transit"
	}
	cfg.Mount = strings.Trim(cfg.Mount, "/")
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Reload <= 0 {
		cfg.Reload = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	// Every token is one sign request, as many at once as token requests:
	// keep that many idle connections to Vault rather than the client's
	// default (GOMAXPROCS+1), or each burst opens and closes connections
	// (in production each a TLS handshake). The transport is the shared
	// client's; only its idle pool grows.
	if tr, ok := cfg.Client.CloneConfig().HttpClient.Transport.(*http.Transport); ok && tr.MaxIdleConnsPerHost < idleConns {
		tr.MaxIdleConnsPerHost = idleConns
	}
	s := &Source{
		cfg: cfg,
		published: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: metrics.Namespace, Name: "token_signing_keys",
			Help: "Signing keys this replica publishes in its JWKS (current, next and retained).",
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Name: "token_key_store_errors_total",
			Help: "Failed reads or writes of the signing-key store (Vault or the encrypted file).",
		}),
		signTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: metrics.Namespace, Name: "token_transit_sign_seconds",
			Help:    "Time of one Vault transit signature, failed ones included.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .025, .05, .1, .25, 1},
		}),
		signFails: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Name: "token_transit_sign_errors_total",
			Help: "Vault transit signatures that failed (the token request got a 503).",
		}),
	}
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(s.published, s.errors, s.signTime, s.signFails)
	}
	return s, nil
}

// Set returns the current key set (nil before the first successful Sync).
func (s *Source) Set() *keys.Set { return s.set.Load() }

// Sync reads the key, checks that it cannot leave Vault, rotates it when
// due and installs the published versions.
func (s *Source) Sync(ctx context.Context) error {
	err := s.sync(ctx)
	if err != nil {
		s.errors.Inc()
	}
	return err
}

// Run syncs every Reload until ctx ends. Failures are logged and retried;
// the replica keeps the versions it has (signing needs Vault anyway).
func (s *Source) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.Reload)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := s.Sync(ctx); err != nil && ctx.Err() == nil {
			s.cfg.Logger.Warn("transit signing key sync failed; keeping the current keys", "error", err)
		}
	}
}

// Check reads the key: Vault reachable, the token valid, the key there and
// still unexportable (a readiness report; signing itself is not probed).
func (s *Source) Check(ctx context.Context) error {
	_, err := s.read(ctx)
	return err
}

// version is one version of the transit key.
type version struct {
	n          int
	created    time.Time
	public     *ecdsa.PublicKey
	activeFrom time.Time
}

// keyInfo is what GET <mount>/keys/<key> says that matters here.
type keyInfo struct {
	Type                 string `json:"type"`
	Exportable           bool   `json:"exportable"`
	AllowPlaintextBackup bool   `json:"allow_plaintext_backup"`
	Keys                 map[string]struct {
		PublicKey    string `json:"public_key"`
		CreationTime string `json:"creation_time"`
	} `json:"keys"`
}

func (s *Source) sync(ctx context.Context) error {
	now := s.cfg.Now()
	vs, err := s.read(ctx)
	if err != nil {
		return err
	}
	schedule(vs, s.cfg.Policy.Prepublish)
	var rotateErr error
	if s.cfg.Rotate && due(vs, now, s.cfg.Policy) {
		if _, err := s.cfg.Client.Logical().WriteWithContext(ctx, s.path("keys", s.cfg.Key, "rotate"), nil); err != nil {
			// Keep publishing (and signing with) the versions there are;
			// retention counts from the successor's activation, so a late
			// rotation withdraws nothing early. Reported after the install.
			rotateErr = fmt.Errorf("transit: rotate %s: %w", s.path("keys", s.cfg.Key), err)
		} else {
			if vs, err = s.read(ctx); err != nil {
				return err
			}
			schedule(vs, s.cfg.Policy.Prepublish)
			s.cfg.Logger.Info("transit signing key rotated", "key", s.cfg.Key, "version", vs[len(vs)-1].n,
				"active_from", vs[len(vs)-1].activeFrom)
		}
	}
	vs = retain(vs, now, s.cfg.Policy.Retention)
	remote := make([]keys.RemoteKey, 0, len(vs))
	for _, v := range vs {
		kid, err := thumbprint(v.public)
		if err != nil {
			return err
		}
		remote = append(remote, keys.RemoteKey{KID: kid, Alg: jose.ES256, ActiveFrom: v.activeFrom, Public: v.public,
			Sign: s.signer(v.n)})
	}
	var legacy *keys.Set
	if s.cfg.Legacy != nil {
		legacy = s.cfg.Legacy()
	}
	set, err := keys.NewRemoteSet(s.cfg.CacheKey, remote, legacy)
	if err != nil {
		return err
	}
	if cur := s.set.Load(); cur == nil || string(cur.JWKS()) != string(set.JWKS()) || !sameSchedule(cur, set) {
		s.set.Store(set)
		s.published.Set(float64(len(set.Keys())))
		s.logVersions(vs)
	}
	return rotateErr
}

// read fetches the key and refuses one that could leave Vault.
func (s *Source) read(ctx context.Context) ([]version, error) {
	p := s.path("keys", s.cfg.Key)
	secret, err := s.cfg.Client.Logical().ReadWithContext(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("transit: read %s: %w", p, err)
	}
	if secret == nil || secret.Data == nil {
		return nil, fmt.Errorf("transit: key %s does not exist (create it: vault write %s type=%s exportable=false, docs/deploy.md)", p, p, KeyType)
	}
	var info keyInfo
	if err := convert(secret.Data, &info); err != nil {
		return nil, fmt.Errorf("transit: read %s: %w", p, err)
	}
	switch {
	case info.Type != KeyType:
		return nil, fmt.Errorf("transit: key %s is of type %q; ES256 needs %q", p, info.Type, KeyType)
	case info.Exportable:
		// Once exportable, a transit key stays so: refuse it for good.
		return nil, fmt.Errorf("transit: key %s is exportable: its private key can leave Vault; create a new key with exportable=false", p)
	case info.AllowPlaintextBackup:
		return nil, fmt.Errorf("transit: key %s allows plaintext backup (the backup holds the private key); create a new key without it", p)
	}
	vs := make([]version, 0, len(info.Keys))
	for k, kv := range info.Keys {
		n, err := strconv.Atoi(k)
		if err != nil {
			return nil, fmt.Errorf("transit: %s: version %q: %w", p, k, err)
		}
		created, err := time.Parse(time.RFC3339Nano, kv.CreationTime)
		if err != nil {
			return nil, fmt.Errorf("transit: %s version %d: creation_time: %w", p, n, err)
		}
		pub, err := parsePublic(kv.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("transit: %s version %d: %w", p, n, err)
		}
		vs = append(vs, version{n: n, created: created, public: pub})
	}
	if len(vs) == 0 {
		return nil, fmt.Errorf("transit: key %s has no versions", p)
	}
	slices.SortFunc(vs, func(a, b version) int { return a.n - b.n })
	return vs, nil
}

// schedule sets when each version signs: the oldest from its creation,
// every later one Prepublish after its creation (and never before its
// predecessor).
func schedule(vs []version, prepublish time.Duration) {
	for i := range vs {
		vs[i].activeFrom = vs[i].created.UTC()
		if i > 0 {
			vs[i].activeFrom = vs[i].activeFrom.Add(prepublish)
			if vs[i].activeFrom.Before(vs[i-1].activeFrom) {
				vs[i].activeFrom = vs[i-1].activeFrom
			}
		}
	}
}

// due: the newest version already signs and its successor must be
// published now to sign when the interval ends (keys.Plan's rule).
func due(vs []version, now time.Time, p keys.Policy) bool {
	last := vs[len(vs)-1]
	return !last.activeFrom.After(now) && !now.Before(last.activeFrom.Add(p.Interval-p.Prepublish))
}

// retain drops the versions whose successor has signed for Retention.
func retain(vs []version, now time.Time, retention time.Duration) []version {
	kept := vs[:0:0]
	for i, v := range vs {
		if i+1 < len(vs) {
			next := vs[i+1].activeFrom
			if !next.After(now) && !now.Before(next.Add(retention)) {
				continue
			}
		}
		kept = append(kept, v)
	}
	return kept
}

// signer signs with one version. The input is hashed here (SHA-256, as
// ES256 requires) and sent prehashed, so Vault sees 32 bytes instead of
// the token's claims; marshaling_algorithm=jws makes Vault return R || S
// in base64url, the JWS form (RFC 7518 §3.4), instead of ASN.1 DER.
func (s *Source) signer(n int) func(ctx context.Context, input []byte) ([]byte, error) {
	path := s.path("sign", s.cfg.Key)
	prefix := "vault:v" + strconv.Itoa(n) + ":"
	return func(ctx context.Context, input []byte) ([]byte, error) {
		start := time.Now()
		defer func() { s.signTime.Observe(time.Since(start).Seconds()) }()
		digest := sha256.Sum256(input)
		secret, err := s.cfg.Client.Logical().WriteWithContext(ctx, path, map[string]any{
			"input":                base64.StdEncoding.EncodeToString(digest[:]),
			"prehashed":            true,
			"hash_algorithm":       "sha2-256",
			"marshaling_algorithm": "jws",
			"key_version":          n,
		})
		if err != nil {
			s.signFails.Inc()
			return nil, fmt.Errorf("transit: sign with %s version %d: %w", path, n, err)
		}
		var sig string
		if secret != nil {
			sig, _ = secret.Data["signature"].(string)
		}
		enc, ok := strings.CutPrefix(sig, prefix)
		if !ok {
			s.signFails.Inc()
			return nil, fmt.Errorf("transit: sign with %s: a signature of another version or form (%.12q...)", path, sig)
		}
		rs, err := base64.RawURLEncoding.DecodeString(enc)
		if err != nil || len(rs) != 64 {
			s.signFails.Inc()
			return nil, fmt.Errorf("transit: sign with %s: not a 64-byte JWS ES256 signature", path)
		}
		return rs, nil
	}
}

func (s *Source) path(parts ...string) string {
	return s.cfg.Mount + "/" + strings.Join(parts, "/")
}

func (s *Source) logVersions(vs []version) {
	var b strings.Builder
	for _, v := range vs {
		fmt.Fprintf(&b, "v%d@%s ", v.n, v.activeFrom.Format(time.RFC3339))
	}
	desc := strings.TrimSpace(b.String())
	if old := s.seen.Swap(&desc); old == nil || *old != desc {
		s.cfg.Logger.Info("transit signing keys published", "key", s.cfg.Key, "versions", desc)
	}
}

// sameSchedule: the same keys sign from the same times.
func sameSchedule(a, b *keys.Set) bool {
	ak, bk := a.Keys(), b.Keys()
	if len(ak) != len(bk) {
		return false
	}
	for i := range ak {
		if ak[i].KID != bk[i].KID || !ak[i].ActiveFrom.Equal(bk[i].ActiveFrom) {
			return false
		}
	}
	return true
}

// parsePublic reads transit's PEM (PKIX) public key of a P-256 key.
func parsePublic(s string) (*ecdsa.PublicKey, error) {
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		return nil, errors.New("public_key is not PEM")
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, fmt.Errorf("public key is %T, not ECDSA P-256", pub)
	}
	return ec, nil
}

// thumbprint is the RFC 7638 JWK thumbprint, as internal/keys names its
// keys: anyone can recompute the kid from the published key.
func thumbprint(pub crypto.PublicKey) (string, error) {
	tp, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}

func convert(from, to any) error {
	b, err := json.Marshal(from)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, to)
}
