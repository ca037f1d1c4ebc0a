package check

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sentryagent/agentidp/libs/apierror"
	"github.com/sentryagent/agentidp/libs/metrics"
)

// Metrics of the decisions. Labels are bounded: the reason is one of the
// known codes (others count as OTHER), never an id or a path.
type Metrics struct {
	decisions       *prometheus.CounterVec
	byKey           map[[2]string]prometheus.Counter
	duration        prometheus.Histogram
	cacheHits       prometheus.Counter
	cacheMisses     prometheus.Counter
	decisionHits    prometheus.Counter
	decisionMisses  prometheus.Counter
	rejections      prometheus.Counter
	rateLimitErrors prometheus.Counter
	// targetUnavailable counts requests decided without their target's state.
	targetUnavailable prometheus.Counter
	// observeDuration, if set, also receives each check's duration (benchmarks).
	observeDuration func(time.Duration)
}

var knownReasons = []string{
	"OK", ReasonUnauthenticated, ReasonInvalidToken, ReasonTokenRevoked, ReasonAgentSuspended,
	ReasonInsufficient, ReasonPolicyDenied, ReasonRateLimited, ReasonUnavailable, ReasonPolicyError,
	ReasonMalformed, apierror.ReasonRouteNotFound, "OTHER",
}

// CheckBuckets resolve the microseconds a check takes when it stays in
// memory, and the milliseconds of a miss.
var CheckBuckets = []float64{.000025, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}

// NewMetrics registers the decision metrics on reg. observe, if not nil,
// also receives each check's duration (benchmarks).
func NewMetrics(reg prometheus.Registerer, observe func(time.Duration)) *Metrics {
	m := &Metrics{
		observeDuration: observe,
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Name: "authz_decisions_total",
			Help: "Authorization decisions by result (allow, deny) and reason (OK for allow; the ErrorInfo reason of a denial).",
		}, []string{"result", "reason"}),
		byKey: map[[2]string]prometheus.Counter{},
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: metrics.Namespace, Name: "authz_check_duration_seconds",
			Help: "Time to decide one request inside the Check handler.", Buckets: CheckBuckets,
		}),
		rejections: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Name: "rate_limit_rejections_total",
			Help: "API calls refused with 429 because the agent exceeded its rate limit.",
		}),
		rateLimitErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Name: "authz_rate_limit_errors_total",
			Help: "API calls let through unlimited because Redis did not answer the rate limiter.",
		}),
		targetUnavailable: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Name: "authz_target_unavailable_total",
			Help: "API calls naming an agent whose state could not be established (the policy decided without it; the service applies the owner and subset rules itself).",
		}),
	}
	cache := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metrics.Namespace, Name: "authz_token_cache_total",
		Help: "Bearer tokens found verified in memory (hit) or verified now (miss).",
	}, []string{"result"})
	m.cacheHits, m.cacheMisses = cache.WithLabelValues("hit"), cache.WithLabelValues("miss")
	decisions := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metrics.Namespace, Name: "authz_decision_cache_total",
		Help: "Policy decisions answered from the policy version's memory (hit) or evaluated (miss).",
	}, []string{"result"})
	m.decisionHits, m.decisionMisses = decisions.WithLabelValues("hit"), decisions.WithLabelValues("miss")
	for _, r := range knownReasons {
		result := "deny"
		if r == "OK" {
			result = "allow"
		}
		m.byKey[[2]string{result, r}] = m.decisions.WithLabelValues(result, r)
	}
	reg.MustRegister(m.decisions, m.duration, m.rejections, m.rateLimitErrors, m.targetUnavailable, cache, decisions)
	return m
}

func (m *Metrics) cache(hit bool) {
	if hit {
		m.cacheHits.Inc()
	} else {
		m.cacheMisses.Inc()
	}
}

func (m *Metrics) decisionCache(hit bool) {
	if hit {
		m.decisionHits.Inc()
	} else {
		m.decisionMisses.Inc()
	}
}

func (m *Metrics) observe(res *Result, d time.Duration) {
	result, reason := "deny", res.Reason
	if res.Allowed {
		result, reason = "allow", "OK"
	}
	c, ok := m.byKey[[2]string{result, reason}]
	if !ok {
		c = m.byKey[[2]string{"deny", "OTHER"}]
	}
	c.Inc()
	m.duration.Observe(d.Seconds())
	if m.observeDuration != nil {
		m.observeDuration(d)
	}
}
