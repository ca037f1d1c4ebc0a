// Package check decides one request: it verifies the bearer token (or
// finds it verified in memory), applies the kill switch (revoked token,
// revoked credential, suspended or decommissioned agent), evaluates the
// policy, charges the agent's rate limit, and says what to tell the client
// or send upstream.
package check

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/sentryagent/agentidp/libs/accesstoken"
	"github.com/sentryagent/agentidp/libs/apierror"
	"github.com/sentryagent/agentidp/libs/auditlog"
	"github.com/sentryagent/agentidp/libs/ratelimit"
	"github.com/sentryagent/agentidp/libs/requestinfo"
	"github.com/sentryagent/agentidp/libs/tokencheck"
	"github.com/sentryagent/agentidp/services/authz/internal/input"
	"github.com/sentryagent/agentidp/services/authz/internal/policy"
	"github.com/sentryagent/agentidp/services/authz/internal/state"
	"github.com/sentryagent/agentidp/services/authz/internal/token"
)

// Headers the service sets on allowed requests. Envoy strips any copy a
// client sent before ext_authz runs; the service sets them, overwriting.
const (
	HeaderAgentID     = requestinfo.HeaderAgentID
	HeaderAgentOwner  = requestinfo.HeaderAgentOwner
	HeaderAgentScopes = requestinfo.HeaderAgentScopes
	HeaderRequestID   = requestinfo.HeaderRequestID
)

// identityHeaders are authz's to set: a policy's headers never name them.
var identityHeaders = map[string]bool{HeaderAgentID: true, HeaderAgentOwner: true, HeaderAgentScopes: true, HeaderRequestID: true}

// Reasons of the errors this service answers with (ErrorInfo.reason).
const (
	ReasonUnauthenticated = "UNAUTHENTICATED"
	ReasonInvalidToken    = "INVALID_TOKEN"
	ReasonTokenRevoked    = "TOKEN_REVOKED"
	ReasonAgentSuspended  = "AGENT_SUSPENDED"
	ReasonInsufficient    = "INSUFFICIENT_SCOPE"
	ReasonPolicyDenied    = "POLICY_DENIED"
	ReasonRateLimited     = apierror.ReasonRateLimited
	ReasonUnavailable     = apierror.ReasonServiceUnavailable
	ReasonPolicyError     = "POLICY_ERROR"
	ReasonMalformed       = apierror.ReasonMalformedRequest
)

// Interfaces of the service's dependencies, each as narrow as it uses.
type (
	// Verifier checks a raw token.
	Verifier interface {
		Verify(ctx context.Context, raw string) (*accesstoken.Verified, error)
	}
	// Policy decides on an input document; remember lets it answer a
	// repeated question from memory (see policy.Policy.Eval).
	Policy interface {
		Eval(ctx context.Context, input ast.Value, remember bool) (d policy.Decision, cached bool, err error)
	}
	// Revocations is the revocation channel's state.
	Revocations interface {
		Epoch() (uint64, bool)
		RecentlyRevoked(jti string) bool
	}
	// Record reads revoked jtis and credentials from Redis.
	Record interface {
		Revoked(ctx context.Context, jti, credentialID string) (jtiRevoked, credRevoked bool, err error)
	}
	// Credentials reports credential revocations from the feed.
	Credentials interface {
		CredentialRevoked(id string) bool
	}
	// Agents returns an agent's current state.
	Agents interface {
		Agent(ctx context.Context, id string) (*state.Agent, error)
	}
	// Limiter charges rate limits.
	Limiter interface {
		Allow(ctx context.Context, key string, lim ratelimit.Limit) (bool, time.Duration, error)
	}
	// Auditor records denials.
	Auditor interface {
		Emit(ctx context.Context, e auditlog.Event) error
	}
)

// Config holds the service's dependencies.
type Config struct {
	Verifier    Verifier
	Cache       *token.Cache
	Revocations Revocations
	Record      Record
	Credentials Credentials
	// CredentialFeedLive reports whether the credentials feed is live; when
	// it is not, every request asks Redis about its credential.
	CredentialFeedLive func() bool
	Agents             Agents
	Policy             Policy
	Limiter            Limiter
	Audit              Auditor
	// Ready reports whether start-up is over (keys, feeds, subscription).
	Ready   func() bool
	Metrics *Metrics
	Logger  *slog.Logger
	// Realm of WWW-Authenticate; default "agentidp".
	Realm string
	// Timeout bounds the Redis and registry calls of one check.
	Timeout time.Duration
	Now     func() time.Time
}

// Service decides requests.
type Service struct {
	cfg Config
}

// New returns the service.
func New(cfg Config) *Service {
	if cfg.Realm == "" {
		cfg.Realm = "agentidp"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 500 * time.Millisecond
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Service{cfg: cfg}
}

// Check decides one request.
func (s *Service) Check(ctx context.Context, r *input.Request) *Result {
	start := time.Now()
	res, log := s.check(ctx, r)
	s.cfg.Metrics.observe(res, time.Since(start))
	if log != nil {
		s.log(ctx, r, res, log)
	}
	return res
}

// who is what the check learned about the caller, for logs and audit.
type who struct {
	claims *accesstoken.Verified
	audit  bool
	detail string
}

func (s *Service) check(ctx context.Context, r *input.Request) (*Result, *who) {
	// Envoy's request id is the x-request-id header (its "id" field is a
	// stream number).
	if id := r.Headers[HeaderRequestID]; id != "" {
		r.ID = id
	}
	if !s.cfg.Ready() {
		return s.deny(r, 503, ReasonUnavailable, "authorization is starting: its state is not established yet", ""), &who{}
	}
	if !input.ValidUTF8(r.Path) {
		// Checked before the token, like the policy's other malformed
		// requests: no service could decode it (an opaque 500 otherwise).
		return s.deny(r, 400, ReasonMalformed, "the request path and query must be UTF-8 once percent-decoded", ""), &who{}
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()

	raw, scheme := bearer(r.Headers["authorization"])
	var entry *token.Entry
	var agent *state.Agent
	switch scheme {
	case bearerMalformed:
		return s.deny(r, 401, ReasonInvalidToken, "the Authorization header is not a single Bearer token", ""), &who{}
	case bearerPresent:
		var res *Result
		var w *who
		entry, agent, res, w = s.authenticate(ctx, r, raw)
		if res != nil {
			return res, w
		}
	}

	var tok, ag, target ast.Value
	if entry != nil {
		tok, ag = entry.Input, agent.Input
		target = s.target(ctx, r)
	}
	in, parsed := input.Build(r, tok, ag, target)
	d, cached, err := s.cfg.Policy.Eval(ctx, in, len(r.Body) == 0)
	s.cfg.Metrics.decisionCache(cached)
	w := &who{}
	if entry != nil {
		w.claims = entry.Claims
	}
	if err != nil {
		if ctx.Err() != nil {
			// The check ran out of time (an overloaded process, or Envoy
			// gave up): not the policy's fault, and worth a retry.
			s.cfg.Logger.Warn("policy evaluation cut short", "error", err, "path", parsed.PathOnly)
			return s.deny(r, 503, ReasonUnavailable, "authorization took too long; retry later", ""), w
		}
		s.cfg.Logger.Error("policy evaluation failed", "error", err, "path", parsed.PathOnly)
		return s.deny(r, 500, ReasonPolicyError, "the policy could not decide", ""), w
	}
	if d.Allowed && agent != nil && agent.Status != state.Active {
		// The kill switch does not depend on the policy remembering it.
		d = policy.Decision{HTTPStatus: 401, Reason: ReasonAgentSuspended, Message: "agent " + agent.ID + " is " + agent.Status}
	}
	if !d.Allowed {
		w.audit = entry != nil && (d.HTTPStatus == 401 || d.HTTPStatus == 403 || d.HTTPStatus == 0)
		return s.denyDecision(r, d), w
	}
	if d.RateLimit != nil && entry != nil {
		ok, wait, err := s.cfg.Limiter.Allow(ctx, rateLimitKey(entry.Claims.Subject, d.RateLimit.Bucket),
			ratelimit.Limit{PerSecond: d.RateLimit.PerSecond, Burst: d.RateLimit.Burst})
		switch {
		case err != nil:
			// Rate limiting protects; it does not authorise. Without Redis
			// the request goes through, counted.
			s.cfg.Metrics.rateLimitErrors.Inc()
		case !ok:
			s.cfg.Metrics.rejections.Inc()
			res := s.deny(r, 429, ReasonRateLimited, "too many requests: the agent exceeded its rate limit ("+d.RateLimit.Bucket+")", "")
			res.ResponseHeaders = append(res.ResponseHeaders, Header{"retry-after", ratelimit.RetryAfter(wait)})
			w.detail = d.RateLimit.Bucket
			return res, nil // counted, not logged or audited per request
		}
	}
	return s.allow(r, d, entry, agent), nil
}

// rateLimitKey is the Redis key of an agent's bucket; the hash tag keeps
// an agent's buckets in one Redis Cluster slot.
func rateLimitKey(agentID, bucket string) string { return "authz:{" + agentID + "}:rl:" + bucket }

// authenticate verifies the token and applies the kill switch; it returns
// a denial (res) when the token must not be used.
func (s *Service) authenticate(ctx context.Context, r *input.Request, raw string) (*token.Entry, *state.Agent, *Result, *who) {
	key := token.KeyOf(raw)
	entry := s.cfg.Cache.Get(key)
	hit := entry != nil
	s.cfg.Metrics.cache(hit)
	if !hit {
		claims, err := s.cfg.Verifier.Verify(ctx, raw)
		if err != nil {
			var te *accesstoken.Error
			msg := "the access token is invalid"
			if errors.As(err, &te) {
				msg = te.Error()
			}
			return nil, nil, s.deny(r, 401, ReasonInvalidToken, msg, ""), &who{detail: msg}
		}
		entry = token.NewEntry(claims)
	}
	c := entry.Claims
	w := &who{claims: c, audit: true}

	epoch, live := s.cfg.Revocations.Epoch()
	credFeedLive := s.cfg.CredentialFeedLive()
	if !live || !entry.Checked(epoch) || !credFeedLive {
		jtiRevoked, credRevoked, err := s.cfg.Record.Revoked(ctx, c.ID, c.CredentialID)
		if err != nil {
			s.cfg.Logger.Warn("cannot read the revocation record", "error", err)
			return nil, nil, s.deny(r, 503, ReasonUnavailable, "cannot establish whether the token was revoked", ""), &who{claims: c}
		}
		if jtiRevoked || s.cfg.Revocations.RecentlyRevoked(c.ID) {
			s.cfg.Cache.DropJTI(c.ID)
			return nil, nil, s.revoked(r, "the access token was revoked"), w
		}
		if credRevoked {
			return nil, nil, s.revoked(r, "the credential this token was issued from was revoked"), w
		}
		if live {
			entry.MarkChecked(epoch)
		}
		if !hit {
			s.cfg.Cache.Put(key, entry)
		}
	}
	t := tokencheck.Token{IssuedAt: c.IssuedAt, Owner: c.Owner, CredentialRevoked: s.cfg.Credentials.CredentialRevoked(c.CredentialID)}
	var judged *tokencheck.Agent
	var agent *state.Agent
	if !t.CredentialRevoked {
		var err error
		agent, err = s.cfg.Agents.Agent(ctx, c.Subject)
		switch {
		case errors.Is(err, state.ErrNoAgent):
		case err != nil:
			s.cfg.Logger.Warn("cannot establish the agent's state", "error", err)
			return nil, nil, s.deny(r, 503, ReasonUnavailable, "cannot establish the agent's state", ""), &who{claims: c}
		default:
			judged = &tokencheck.Agent{Status: agent.Status, Owner: agent.Owner, Scopes: agent.Scopes, RevokedThrough: agent.RevokedThrough}
		}
	}
	// The rules introspection applies too (libs/tokencheck). A suspended
	// agent is the policy's to refuse (AGENT_SUSPENDED, with a floor in
	// check); once reactivated, tokens from before stay dead.
	switch v, why := tokencheck.Judge(t, judged); v {
	case tokencheck.UnknownAgent:
		return nil, nil, s.deny(r, 401, ReasonInvalidToken, why, ""), w
	case tokencheck.Revoked:
		return nil, nil, s.revoked(r, why), w
	}
	return entry, agent, nil, nil
}

// target is input.target: the agent the request's path names —
// ".../agents/{agentId}/..." (AIP resource names) — as the kill switch's
// projection knows it, for the policy's owner and escalation rules; nil
// when the path names none or the agent does not exist (the service then
// answers 404). When its state cannot be established (an agent the
// projection does not hold yet, the registry unreachable), the input says
// so ({"id", "unavailable": true}) and the policy decides: AgentIdP's lets
// the request through to the service, which applies the same rules in its
// own queries.
func (s *Service) target(ctx context.Context, r *input.Request) ast.Value {
	id := input.TargetAgent(r.Path)
	if id == "" {
		return nil
	}
	a, err := s.cfg.Agents.Agent(ctx, id)
	switch {
	case errors.Is(err, state.ErrNoAgent):
		return nil
	case err != nil:
		s.cfg.Logger.Warn("cannot establish the state of the agent the request names; the policy decides without it", "error", err)
		s.cfg.Metrics.targetUnavailable.Inc()
		return input.UnavailableTarget(id)
	}
	return a.Input
}

func (s *Service) revoked(r *input.Request, msg string) *Result {
	return s.deny(r, 401, ReasonTokenRevoked, msg, "")
}

// bearer scheme results.
const (
	bearerAbsent = iota
	bearerPresent
	bearerMalformed
)

// bearer extracts an RFC 6750 §2.1 token. Another scheme (Basic) counts as
// no token: the client did not try bearer authentication.
func bearer(h string) (string, int) {
	if h == "" {
		return "", bearerAbsent
	}
	scheme, rest, ok := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		if strings.HasPrefix(strings.ToLower(h), "bearer") {
			return "", bearerMalformed
		}
		return "", bearerAbsent
	}
	tok := strings.TrimLeft(rest, " ")
	// Envoy joins repeated headers with ","; a token has none, nor spaces.
	if !ok || tok == "" || strings.ContainsAny(tok, ", \t") {
		return "", bearerMalformed
	}
	return tok, bearerPresent
}

// effectiveScopes is what x-agent-scopes says: the token's scopes the agent
// still holds.
func effectiveScopes(c *accesstoken.Verified, a *state.Agent) string {
	return strings.Join(tokencheck.EffectiveScopes(c.Scopes, a.Scopes), " ")
}

func (s *Service) log(ctx context.Context, r *input.Request, res *Result, w *who) {
	level := slog.LevelDebug
	switch {
	case res.Status >= 500:
		level = slog.LevelWarn
	case w.claims != nil && !res.Allowed:
		level = slog.LevelInfo
	}
	if !s.cfg.Logger.Enabled(ctx, level) && !w.audit {
		return
	}
	path, _, _ := strings.Cut(r.Path, "?")
	attrs := []any{"status", res.Status, "reason", res.Reason, "method", r.Method, "path", bounded(path, 256), "request_id", r.ID}
	if w.claims != nil {
		attrs = append(attrs, "agent", w.claims.Subject, "jti", w.claims.ID)
	}
	if w.detail != "" {
		attrs = append(attrs, "detail", w.detail)
	}
	s.cfg.Logger.Log(ctx, level, "denied", attrs...)
	if w.audit && w.claims != nil && s.cfg.Audit != nil {
		s.auditDenial(r, res, w.claims, path)
	}
}

func (s *Service) auditDenial(r *input.Request, res *Result, c *accesstoken.Verified, path string) {
	ev := auditlog.Event{
		Actor:     bounded(c.Subject, auditlog.MaxActorLen),
		Action:    auditlog.ActionAuthzDenied,
		Target:    bounded("request:"+r.Method+" "+path, auditlog.MaxTargetLen),
		Outcome:   auditlog.OutcomeDenied,
		Owner:     bounded(c.Owner, auditlog.MaxOwnerLen),
		RequestID: bounded(r.ID, auditlog.MaxRequestIDLen),
		Details: map[string]string{
			"reason": res.Reason, "status": itoa(res.Status), "method": bounded(r.Method, 16),
			"path": bounded(path, auditlog.MaxDetailValueLen), "jti": bounded(c.ID, 64),
		},
	}
	if isUUID(c.Subject) {
		ev.AgentID = c.Subject
	}
	if xff := requestinfo.ForwardedClient(r.Headers["x-forwarded-for"]); xff != "" {
		// The address Envoy saw, not one the client wrote in the header.
		ev.SourceAddress = bounded(xff, auditlog.MaxSourceAddressLen)
	}
	// The audit emitter may wait for Redis; the client must not.
	go func() {
		if err := s.cfg.Audit.Emit(context.Background(), ev); err != nil {
			s.cfg.Logger.Warn("audit event not recorded", "action", ev.Action, "error", err)
		}
	}()
}

func bounded(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}
