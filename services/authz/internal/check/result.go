package check

import (
	"strconv"
	"strings"

	"github.com/sentryagent/agentidp/libs/apierror"
	"github.com/sentryagent/agentidp/libs/requestinfo"
	"github.com/sentryagent/agentidp/services/authz/internal/input"
	"github.com/sentryagent/agentidp/services/authz/internal/policy"
	"github.com/sentryagent/agentidp/services/authz/internal/state"
	"github.com/sentryagent/agentidp/services/authz/internal/token"
)

// Header is one HTTP header.
type Header struct{ Name, Value string }

// Result is the decision as the gateway must apply it.
type Result struct {
	Allowed bool
	// Status, Reason and Message of a denial (Status 200 when allowed).
	Status  int
	Reason  string
	Message string
	// UpstreamHeaders are set (overwriting) on an allowed request;
	// RemoveHeaders are removed from it.
	UpstreamHeaders []Header
	RemoveHeaders   []string
	// ResponseHeaders go to the client.
	ResponseHeaders []Header
	// Body of a denial.
	Body string
}

// deny builds an AgentIdP error response: google.rpc.Status JSON with an
// ErrorInfo, and WWW-Authenticate per RFC 6750 on 401 and 403.
func (s *Service) deny(r *input.Request, status int, reason, message, scope string) *Result {
	res := &Result{Status: status, Reason: reason, Message: message, Body: errorBody(status, reason, message, r.ID)}
	res.ResponseHeaders = append(res.ResponseHeaders, Header{"content-type", "application/json"}, Header{"cache-control", "no-store"})
	if h := s.wwwAuthenticate(status, reason, message, scope); h != "" {
		res.ResponseHeaders = append(res.ResponseHeaders, Header{"www-authenticate", h})
	}
	return res
}

// denyDecision renders a policy's denial.
func (s *Service) denyDecision(r *input.Request, d policy.Decision) *Result {
	status := d.HTTPStatus
	if status == 0 {
		status = 403
	}
	reason := d.Reason
	if reason == "" {
		reason = defaultReason(status)
	}
	msg := d.Message
	if msg == "" {
		msg = "the policy denied the request"
	}
	res := s.deny(r, status, reason, msg, d.Scope)
	if d.Body != "" {
		res.Body = d.Body
	}
	for k, v := range d.Headers {
		res.ResponseHeaders = append(res.ResponseHeaders, Header{strings.ToLower(k), v})
	}
	for k, v := range d.ResponseHeadersToAdd {
		res.ResponseHeaders = append(res.ResponseHeaders, Header{strings.ToLower(k), v})
	}
	return res
}

// allow builds the OK response: the policy's upstream headers, then the
// caller's identity (which a policy cannot override).
func (s *Service) allow(r *input.Request, d policy.Decision, entry *token.Entry, agent *state.Agent) *Result {
	res := &Result{Allowed: true, Status: 200}
	for k, v := range d.Headers {
		if k = strings.ToLower(k); !identityHeaders[k] {
			res.UpstreamHeaders = append(res.UpstreamHeaders, Header{k, v})
		}
	}
	for k, v := range d.ResponseHeadersToAdd {
		res.ResponseHeaders = append(res.ResponseHeaders, Header{strings.ToLower(k), v})
	}
	res.RemoveHeaders = d.RequestHeadersToRemove
	if entry != nil {
		res.UpstreamHeaders = append(res.UpstreamHeaders,
			Header{HeaderAgentID, entry.Claims.Subject},
			Header{HeaderAgentOwner, requestinfo.EncodeOwner(agent.Owner)},
			Header{HeaderAgentScopes, effectiveScopes(entry.Claims, agent)})
	} else {
		res.RemoveHeaders = append(res.RemoveHeaders, HeaderAgentID, HeaderAgentOwner, HeaderAgentScopes)
	}
	if r.ID != "" {
		res.UpstreamHeaders = append(res.UpstreamHeaders, Header{HeaderRequestID, r.ID})
	}
	return res
}

func defaultReason(status int) string {
	switch status {
	case 400:
		return ReasonMalformed
	case 401:
		return ReasonUnauthenticated
	case 404:
		return apierror.ReasonRouteNotFound
	case 429:
		return ReasonRateLimited
	case 503:
		return ReasonUnavailable
	}
	return ReasonPolicyDenied
}

// errorBody is the google.rpc.Status JSON every /v1 error has
// (libs/apierror: the same bytes as a service's error through the
// gateway); a status no error kind has is code UNKNOWN.
func errorBody(status int, reason, message, requestID string) string {
	return string(apierror.Body{Code: apierror.CodeOfHTTPStatus(status), Message: message, Reason: reason, RequestID: requestID}.JSON())
}

// wwwAuthenticate is the RFC 6750 §3 challenge of a 401 or 403: no error
// code when the request had no token (§3.1), invalid_token for a bad,
// revoked or suspended one, insufficient_scope (with the scope needed,
// when known) for a 403.
func (s *Service) wwwAuthenticate(status int, reason, message, scope string) string {
	var b strings.Builder
	b.WriteString(`Bearer realm="`)
	b.WriteString(s.cfg.Realm)
	b.WriteByte('"')
	switch {
	case status == 401 && reason == ReasonUnauthenticated:
		return b.String()
	case status == 401:
		b.WriteString(`, error="invalid_token"`)
	case status == 403:
		b.WriteString(`, error="insufficient_scope"`)
		if scope != "" {
			b.WriteString(`, scope="`)
			b.WriteString(quotable(scope))
			b.WriteByte('"')
		}
	default:
		return ""
	}
	b.WriteString(`, error_description="`)
	b.WriteString(quotable(message))
	b.WriteByte('"')
	return b.String()
}

// quotable keeps the characters RFC 6750 allows in error_description and
// scope (%x20-21 / %x23-5B / %x5D-7E).
func quotable(s string) string {
	return strings.Map(func(r rune) rune {
		if r == 0x20 || r == 0x21 || r >= 0x23 && r <= 0x5B || r >= 0x5D && r <= 0x7E {
			return r
		}
		return -1
	}, s)
}

func itoa(n int) string { return strconv.Itoa(n) }
