package oauth

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sentryagent/agentidp/libs/apierror"
	"github.com/sentryagent/agentidp/libs/metrics"
)

// Metrics counts the service's outcomes.
type Metrics struct {
	tokens        *prometheus.CounterVec
	introspection *prometheus.CounterVec
	revocation    *prometheus.CounterVec
}

// NewMetrics registers agentidp_tokens_issued_total{outcome},
// agentidp_token_introspections_total{result} and
// agentidp_token_revocations_total{result} on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Name: "tokens_issued_total",
			Help: "Token endpoint requests by outcome: issued, or the OAuth error code (invalid_client, invalid_scope, ...).",
		}, []string{"outcome"}),
		introspection: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Name: "token_introspections_total",
			Help: "Introspection requests by result: active, inactive, denied.",
		}, []string{"result"}),
		revocation: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Name: "token_revocations_total",
			Help: "Revocation requests by result: revoked, ignored (not a live token of ours), denied.",
		}, []string{"result"}),
	}
	reg.MustRegister(m.tokens, m.introspection, m.revocation)
	// Pre-create the common series so dashboards see zeros, not gaps.
	for _, o := range []string{"issued", "invalid_client", "invalid_request", "invalid_scope",
		"unauthorized_client", "unsupported_grant_type", "rate_limited", "temporarily_unavailable", "server_error"} {
		m.tokens.WithLabelValues(o)
	}
	return m
}

func (m *Metrics) issued(err error) {
	if m == nil {
		return
	}
	m.tokens.WithLabelValues(Outcome(err)).Inc()
}

// Outcome names the result of a token request for metrics and logs.
func Outcome(err error) string {
	if err == nil {
		return "issued"
	}
	e := apierror.As(err)
	switch {
	case e == nil:
		return "server_error"
	case e.Kind == apierror.ResourceExhausted:
		return "rate_limited"
	}
	return ErrorCode(e)
}

// ErrorCode is the OAuth "error" value of an API error.
func ErrorCode(e *apierror.Error) string {
	switch e.Reason {
	case ErrInvalidRequest.Reason, ErrInvalidClient.Reason, ErrUnauthorizedClient.Reason,
		ErrUnsupportedGrant.Reason, ErrInvalidScope.Reason, ErrUnavailable.Reason,
		ErrInvalidToken.Reason, ErrInsufficientScope.Reason, ErrServer.Reason:
		return lower(e.Reason)
	}
	switch e.Kind {
	case apierror.Unavailable, apierror.DeadlineExceeded, apierror.ResourceExhausted:
		return "temporarily_unavailable"
	case apierror.Unauthenticated:
		return "invalid_client"
	case apierror.InvalidArgument:
		return "invalid_request"
	}
	return "server_error"
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func (m *Metrics) introspected(result string) {
	if m != nil {
		m.introspection.WithLabelValues(result).Inc()
	}
}

func (m *Metrics) revoked(result string) {
	if m != nil {
		m.revocation.WithLabelValues(result).Inc()
	}
}
