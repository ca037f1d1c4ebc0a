// Package jwks keeps the token service's published signing keys (its JWKS)
// in memory: fetched at start-up, refreshed on a schedule, and at once when
// a token names a key it does not know, at most once per MinRefresh.
package jwks

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sentryagent/agentidp/libs/accesstoken"
	"github.com/sentryagent/agentidp/libs/metrics"
)

// Set is an immutable snapshot of the published keys.
type Set struct {
	keys    map[string]accesstoken.Key
	fetched time.Time
}

// Lookup returns the key kid.
func (s *Set) Lookup(kid string) (accesstoken.Key, bool) {
	if s == nil {
		return accesstoken.Key{}, false
	}
	k, ok := s.keys[kid]
	return k, ok
}

// KIDs lists the key ids.
func (s *Set) KIDs() []string {
	out := make([]string, 0, len(s.keys))
	for k := range s.keys {
		out = append(out, k)
	}
	return out
}

// Config configures a Cache.
type Config struct {
	URL string
	// Refresh is the longest a snapshot is used without re-fetching; a
	// shorter Cache-Control max-age from the server wins. Default 5m.
	Refresh time.Duration
	// MinRefresh is the floor between two fetches caused by unknown key
	// ids, so that tokens naming random kids cannot make this service
	// hammer the token service. Default 5s.
	MinRefresh time.Duration
	Client     *http.Client
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// OnChange, if set, is told the key ids that disappeared from the JWKS
	// (verified tokens signed by them must be forgotten).
	OnChange func(removed []string)
}

// Cache holds the current Set.
type Cache struct {
	cfg       Config
	set       atomic.Pointer[Set]
	mu        sync.Mutex // one fetch at a time
	lastFetch time.Time
	nextAt    atomic.Int64 // unix nanos of the next scheduled refresh
	refreshes *prometheus.CounterVec
}

// New returns an empty cache; call Fetch (start-up) and Run.
func New(cfg Config) *Cache {
	if cfg.Refresh <= 0 {
		cfg.Refresh = 5 * time.Minute
	}
	if cfg.MinRefresh <= 0 {
		cfg.MinRefresh = 5 * time.Second
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 5 * time.Second}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	c := &Cache{cfg: cfg, refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metrics.Namespace, Name: "authz_jwks_refreshes_total",
		Help: "Fetches of the token service's JWKS, by result (ok, error).",
	}, []string{"result"})}
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(c.refreshes, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: metrics.Namespace, Name: "authz_jwks_keys",
			Help: "Verification keys currently known.",
		}, func() float64 {
			if s := c.set.Load(); s != nil {
				return float64(len(s.keys))
			}
			return 0
		}))
	}
	return c
}

// Current is the latest snapshot (nil before the first successful fetch).
func (c *Cache) Current() *Set { return c.set.Load() }

// Lookup finds kid in the current snapshot.
func (c *Cache) Lookup(kid string) (accesstoken.Key, bool) { return c.set.Load().Lookup(kid) }

// LookupOrRefresh finds kid, fetching the JWKS once if it is unknown and
// the last fetch is older than MinRefresh.
func (c *Cache) LookupOrRefresh(ctx context.Context, kid string) (accesstoken.Key, bool) {
	if k, ok := c.Lookup(kid); ok {
		return k, true
	}
	c.mu.Lock()
	// Someone may have fetched while we waited for the lock.
	if k, ok := c.Lookup(kid); ok {
		c.mu.Unlock()
		return k, true
	}
	if time.Since(c.lastFetch) < c.cfg.MinRefresh {
		c.mu.Unlock()
		return accesstoken.Key{}, false
	}
	err := c.fetchLocked(ctx)
	c.mu.Unlock()
	if err != nil {
		return accesstoken.Key{}, false
	}
	return c.Lookup(kid)
}

// Fetch fetches the JWKS now.
func (c *Cache) Fetch(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fetchLocked(ctx)
}

// Run refreshes the keys until ctx ends: retrying every second until the
// first fetch succeeds, then on schedule.
func (c *Cache) Run(ctx context.Context) error {
	for {
		wait := time.Second
		if c.set.Load() != nil {
			wait = time.Until(time.Unix(0, c.nextAt.Load()))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(max(wait, 100*time.Millisecond)):
		}
		if err := c.Fetch(ctx); err != nil && ctx.Err() == nil {
			c.cfg.Logger.Warn("JWKS refresh failed; keeping the keys we have", "url", c.cfg.URL, "error", err)
		}
	}
}

func (c *Cache) fetchLocked(ctx context.Context) error {
	c.lastFetch = time.Now()
	set, maxAge, err := c.download(ctx)
	if err != nil {
		c.refreshes.WithLabelValues("error").Inc()
		// Retry soon, not after a whole refresh interval.
		c.nextAt.Store(time.Now().Add(min(c.cfg.MinRefresh, c.cfg.Refresh)).UnixNano())
		return err
	}
	c.refreshes.WithLabelValues("ok").Inc()
	every := c.cfg.Refresh
	if maxAge > 0 && maxAge < every {
		every = maxAge
	}
	c.nextAt.Store(time.Now().Add(every).UnixNano())
	old := c.set.Swap(set)
	if old != nil && c.cfg.OnChange != nil {
		var removed []string
		for kid := range old.keys {
			if _, ok := set.keys[kid]; !ok {
				removed = append(removed, kid)
			}
		}
		if len(removed) > 0 {
			c.cfg.Logger.Info("signing keys withdrawn from the JWKS", "kids", removed)
			c.cfg.OnChange(removed)
		}
	}
	return nil
}

// maxJWKS bounds the document; a JWKS holds a handful of keys.
const maxJWKS = 1 << 20

func (c *Cache) download(ctx context.Context) (*Set, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.cfg.URL, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := c.cfg.Client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("fetch JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("fetch JWKS: %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKS+1))
	if err != nil {
		return nil, 0, fmt.Errorf("fetch JWKS: %w", err)
	}
	if len(body) > maxJWKS {
		return nil, 0, errors.New("fetch JWKS: document too large")
	}
	set, err := Parse(body)
	if err != nil {
		return nil, 0, err
	}
	return set, maxAge(resp.Header.Get("Cache-Control")), nil
}

// Parse reads a JWKS document, keeping the public ES256 (P-256) and EdDSA
// (Ed25519) signature keys and ignoring everything else (other key types,
// encryption keys, private or symmetric keys).
func Parse(doc []byte) (*Set, error) {
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(doc, &raw); err != nil {
		return nil, fmt.Errorf("JWKS: %w", err)
	}
	set := &Set{keys: map[string]accesstoken.Key{}, fetched: time.Now()}
	for _, r := range raw.Keys {
		var jwk jose.JSONWebKey
		if err := jwk.UnmarshalJSON(r); err != nil {
			continue // a key type go-jose does not know: not ours
		}
		if jwk.KeyID == "" || !jwk.IsPublic() || (jwk.Use != "" && jwk.Use != "sig") {
			continue
		}
		var k accesstoken.Key
		switch pub := jwk.Key.(type) {
		case *ecdsa.PublicKey:
			if pub.Curve != elliptic.P256() {
				continue
			}
			k = accesstoken.Key{ID: jwk.KeyID, Alg: accesstoken.ES256, Public: pub}
		case ed25519.PublicKey:
			k = accesstoken.Key{ID: jwk.KeyID, Alg: accesstoken.EdDSA, Public: pub}
		default:
			continue
		}
		if jwk.Algorithm != "" && jwk.Algorithm != k.Alg {
			continue // a key published for another algorithm
		}
		set.keys[k.ID] = k
	}
	return set, nil
}

// maxAge reads max-age from a Cache-Control header.
func maxAge(cc string) time.Duration {
	for _, part := range strings.Split(cc, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok && strings.EqualFold(k, "max-age") {
			if n, err := strconv.Atoi(strings.Trim(v, `"`)); err == nil && n >= 0 {
				return time.Duration(n) * time.Second
			}
		}
	}
	return 0
}
