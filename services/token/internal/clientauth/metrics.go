package clientauth

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sentryagent/agentidp/libs/metrics"
)

// Metrics counts how clients were authenticated.
type Metrics struct {
	results    *prometheus.CounterVec
	byResult   map[string]prometheus.Counter
	rejections prometheus.Counter
	localHits  prometheus.Counter
}

// NewMetrics registers agentidp_token_client_auth_total{result} and
// agentidp_rate_limit_rejections_total on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Name: "token_client_auth_total",
			Help: "Client authentications by result: cache_hit, verified (asked the credentials service), stale (served from cache while it was unreachable), invalid, unavailable.",
		}, []string{"result"}),
		byResult: map[string]prometheus.Counter{},
		rejections: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Name: "rate_limit_rejections_total",
			Help: "Token requests refused with 429 because the client exceeded its rate limit.",
		}),
	}
	m.localHits = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: metrics.Namespace, Name: "token_client_auth_local_total",
		Help: "Client authentication lookups answered from the replica's memory instead of Redis.",
	})
	reg.MustRegister(m.results, m.rejections, m.localHits)
	for _, r := range []string{"cache_hit", "verified", "stale", "invalid", "unavailable"} {
		m.byResult[r] = m.results.WithLabelValues(r)
	}
	return m
}

func (m *Metrics) auth(result string) {
	if m != nil {
		m.byResult[result].Inc()
	}
}

func (m *Metrics) rateLimited() {
	if m != nil {
		m.rejections.Inc()
	}
}

func (m *Metrics) local() {
	if m != nil {
		m.localHits.Inc()
	}
}
