package credential

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/sentryagent/agentidp/libs/metrics"
)

// Metrics are the service's counters. Labels are small closed sets: never
// an id, never a secret.
type Metrics struct {
	Issued       *prometheus.CounterVec // storage: vault, hash
	Rotated      *prometheus.CounterVec // storage: vault, hash
	Revoked      *prometheus.CounterVec // cause: api, decommission
	Verified     *prometheus.CounterVec // outcome: valid, invalid, busy, unavailable, error
	CacheLookups *prometheus.CounterVec // result: hit, miss
	Reconciled   *prometheus.CounterVec // kind: create, rotation
	// LegacyUpgraded counts bcrypt verifiers replaced by "sha256$" ones.
	LegacyUpgraded prometheus.Counter
	// VaultMigrated counts KV versions holding a secret replaced by ones
	// holding its verifier, by trigger (verify, command).
	VaultMigrated *prometheus.CounterVec
}

// NewMetrics registers the counters on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	counter := func(name, help, label string) *prometheus.CounterVec {
		return f.NewCounterVec(prometheus.CounterOpts{Namespace: metrics.Namespace, Name: name, Help: help}, []string{label})
	}
	return &Metrics{
		Issued:  counter("credentials_issued_total", "Credentials generated, by where the secret is kept (vault, hash).", "storage"),
		Rotated: counter("credentials_rotated_total", "Credential rotations, by where the new secret is kept (vault, hash).", "storage"),
		Revoked: counter("credentials_revoked_total", "Credentials revoked, by cause (api, decommission).", "cause"),
		Verified: counter("credential_verifications_total",
			"VerifyClientSecret answers, by outcome (valid, invalid, busy: every bcrypt slot taken, unavailable, error).", "outcome"),
		CacheLookups: counter("credential_secret_cache_lookups_total",
			"Lookups of Vault secret digests in the in-process cache, by result (hit, miss).", "result"),
		Reconciled: counter("credentials_reconciled_total",
			"Half-written operations undone by the reconciler, by kind (create, rotation).", "kind"),
		LegacyUpgraded: f.NewCounter(prometheus.CounterOpts{Namespace: metrics.Namespace, Name: "credentials_legacy_verifiers_upgraded_total",
			Help: "Phase-1 bcrypt verifiers replaced by sha256 ones on a successful verification."}),
		VaultMigrated: counter("credentials_vault_secrets_migrated_total",
			"Vault KV versions holding a client secret replaced by versions holding its verifier, by trigger (verify, command).", "trigger"),
	}
}
