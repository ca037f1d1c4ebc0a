package keys

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sentryagent/agentidp/libs/metrics"
)

// ManagerConfig configures a Manager.
type ManagerConfig struct {
	Store  Store
	Policy Policy
	// Reload is how often the replica re-reads the store (and rotates when
	// due). Every replica's JWKS lags the store by at most this much.
	Reload time.Duration
	// CacheKey, when set, overrides the cache HMAC key kept with the keys.
	CacheKey []byte
	Logger   *slog.Logger
	// Registerer receives agentidp_token_signing_keys and
	// agentidp_token_key_store_errors_total; nil registers nothing.
	Registerer prometheus.Registerer
	// Now is the clock (tests inject one); default time.Now.
	Now func() time.Time
}

// Manager keeps one replica's view of the signing keys in step with the
// store and rotates them on schedule. Every replica runs one; the store's
// check-and-set makes them agree.
type Manager struct {
	cfg       ManagerConfig
	set       atomic.Pointer[Set]
	published prometheus.Gauge
	errors    prometheus.Counter
}

// NewManager returns a manager; call Sync before serving, then Run.
func NewManager(cfg ManagerConfig) *Manager {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Reload <= 0 {
		cfg.Reload = 30 * time.Second
	}
	m := &Manager{
		cfg: cfg,
		published: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: metrics.Namespace, Name: "token_signing_keys",
			Help: "Signing keys this replica publishes in its JWKS (current, next and retained).",
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Name: "token_key_store_errors_total",
			Help: "Failed reads or writes of the signing-key store (Vault or the encrypted file).",
		}),
	}
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(m.published, m.errors)
	}
	return m
}

// Set returns the current key set (nil before the first successful Sync).
func (m *Manager) Set() *Set { return m.set.Load() }

// Sync loads the keys, rotates them if due (writing back with
// check-and-set, retrying when another replica wrote first), and installs
// what the store holds. A key is never used unless it is stored.
func (m *Manager) Sync(ctx context.Context) error {
	err := m.sync(ctx)
	if err != nil {
		m.errors.Inc()
	}
	return err
}

func (m *Manager) sync(ctx context.Context) error {
	for attempt := 0; ; attempt++ {
		doc, version, err := m.cfg.Store.Load(ctx)
		if err != nil {
			return fmt.Errorf("load signing keys: %w", err)
		}
		planned, changed, err := Plan(doc, m.cfg.Now(), m.cfg.Policy)
		if err != nil {
			return err
		}
		if changed {
			err = m.cfg.Store.Save(ctx, planned, version)
			if errors.Is(err, ErrConflict) && attempt < 5 {
				continue
			}
			if err != nil {
				// Keep signing with what is stored; rotate on a later try.
				if len(doc.Keys) > 0 {
					_ = m.install(doc)
				}
				return fmt.Errorf("store signing keys: %w", err)
			}
			m.logChange(doc, planned)
			doc = planned
		}
		return m.install(doc)
	}
}

func (m *Manager) install(doc Doc) error {
	if len(m.cfg.CacheKey) > 0 {
		doc.CacheKey = m.cfg.CacheKey
	}
	if cur := m.set.Load(); cur != nil && cur.same(doc) {
		return nil // the usual reload: nothing changed, keep the parsed keys
	}
	set, err := NewSet(doc)
	if err != nil {
		return err
	}
	m.set.Store(set)
	m.published.Set(float64(len(set.keys)))
	return nil
}

func (m *Manager) logChange(before, after Doc) {
	had := map[string]bool{}
	for _, k := range before.Keys {
		had[k.KID] = true
	}
	has := map[string]bool{}
	for _, k := range after.Keys {
		has[k.KID] = true
		if !had[k.KID] {
			m.cfg.Logger.Info("signing key published", "kid", k.KID, "alg", k.Alg, "active_from", k.ActiveFrom)
		}
	}
	for _, k := range before.Keys {
		if !has[k.KID] {
			m.cfg.Logger.Info("signing key withdrawn", "kid", k.KID)
		}
	}
}

// Run syncs every Reload until ctx ends. Failures are logged and retried;
// the replica keeps signing with the keys it has.
func (m *Manager) Run(ctx context.Context) error {
	t := time.NewTicker(m.cfg.Reload)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := m.Sync(ctx); err != nil && ctx.Err() == nil {
			m.cfg.Logger.Warn("signing key sync failed; keeping the current keys", "error", err)
		}
	}
}
