package clientauth

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sentryagent/agentidp/libs/metrics"
	"github.com/sentryagent/agentidp/services/token/internal/authcache"
)

// Metrics counts how clients were authenticated.
type Metrics struct {
	results    *prometheus.CounterVec
	byResult   map[string]prometheus.Counter
	rejections prometheus.Counter
	byBucket   map[authcache.Bucket]prometheus.Counter
	localHits  prometheus.Counter
}

// NewMetrics registers agentidp_token_client_auth_total{result},
// agentidp_rate_limit_rejections_total,
// agentidp_token_rate_limited_total{bucket} and
// agentidp_token_client_auth_local_total on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Name: "token_client_auth_total",
			Help: "Client authentications by result: cache_hit, verified (asked the credentials service), stale (served from cache while it was unreachable), invalid, unknown_client (refused from the negative cache, nobody asked), unavailable.",
		}, []string{"result"}),
		byResult: map[string]prometheus.Counter{},
		rejections: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Name: "rate_limit_rejections_total",
			Help: "Requests refused with 429 by a rate limit (any bucket; agentidp_token_rate_limited_total says which).",
		}),
		byBucket: map[authcache.Bucket]prometheus.Counter{},
	}
	limited := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metrics.Namespace, Name: "token_rate_limited_total",
		Help: "Requests refused with 429 by bucket: client (authenticated requests of a client), client_source (failed authentications for a client from one address), source (failed authentications from one address).",
	}, []string{"bucket"})
	for _, b := range authcache.Buckets {
		m.byBucket[b] = limited.WithLabelValues(string(b))
	}
	m.localHits = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: metrics.Namespace, Name: "token_client_auth_local_total",
		Help: "Client authentication lookups answered from the replica's memory instead of Redis.",
	})
	reg.MustRegister(m.results, m.rejections, limited, m.localHits)
	for _, r := range []string{"cache_hit", "verified", "stale", "invalid", "unknown_client", "unavailable"} {
		m.byResult[r] = m.results.WithLabelValues(r)
	}
	return m
}

func (m *Metrics) auth(result string) {
	if m != nil {
		m.byResult[result].Inc()
	}
}

func (m *Metrics) rateLimited(b authcache.Bucket) {
	if m != nil {
		m.rejections.Inc()
		if c := m.byBucket[b]; c != nil {
			c.Inc()
		}
	}
}

func (m *Metrics) local() {
	if m != nil {
		m.localHits.Inc()
	}
}
