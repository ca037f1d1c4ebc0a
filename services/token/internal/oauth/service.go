// Package oauth is the token service's domain: the client_credentials
// grant (RFC 6749 §4.4), introspection (RFC 7662) and revocation
// (RFC 7009), over narrow interfaces for client authentication, token
// signing and the revocation record.
package oauth

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/sentryagent/agentidp/libs/accesstoken"
	"github.com/sentryagent/agentidp/libs/apierror"
	"github.com/sentryagent/agentidp/libs/auditlog"
	"github.com/sentryagent/agentidp/libs/tokencheck"
	"github.com/sentryagent/agentidp/services/token/internal/issuer"
)

// Agent statuses (the registry's words).
const (
	StatusActive         = "active"
	StatusSuspended      = "suspended"
	StatusDecommissioned = "decommissioned"
	// StatusMoving: the agent's owner is changing (the credentials
	// service's view and the projection disagree); no token until they
	// agree.
	StatusMoving = "moving to another owner"
)

// GrantClientCredentials is the only grant type this server supports.
const GrantClientCredentials = "client_credentials"

// ClientCredentials are what a client presented: client_id and secret.
type ClientCredentials struct {
	ClientID string
	Secret   string
}

// Client is an authenticated client.
type Client struct {
	ClientID     string
	AgentID      string
	CredentialID string
	// Scopes the agent may put in its tokens, and its lifecycle status.
	Scopes      []string
	AgentStatus string
	// Owner is the agent's owner (tenant): its tokens' owner claim.
	Owner string
}

// Authenticator authenticates clients. With rateLimited, the request is
// subject to the rate limits (docs/token.md, "Rate limits"): a proven one
// counts against the client's, a failed one against its source address's
// (per client and overall), and an address whose failures are used up is
// refused. Every endpoint that authenticates a client asks for them: each
// is a place to guess a secret.
type Authenticator interface {
	Authenticate(ctx context.Context, c ClientCredentials, rateLimited bool) (Client, error)
}

// Tokens issues access tokens (an *issuer.Issuer).
type Tokens interface {
	Issue(context.Context, issuer.Subject) (string, accesstoken.Claims, error)
}

// Verifier verifies access tokens: libs/accesstoken's Verifier, the one
// authz uses, so that introspection and the gateway agree on what a valid
// token is (signature, typ, iss, aud, exp/nbf/iat with CLOCK_SKEW).
type Verifier interface {
	Verify(ctx context.Context, raw string) (*accesstoken.Verified, error)
}

// Revocations is the shared record of revoked tokens and credentials.
type Revocations interface {
	RevokeToken(ctx context.Context, jti string, exp time.Time) error
	TokenRevoked(ctx context.Context, jti string) (bool, error)
	CredentialRevoked(ctx context.Context, credentialID string) (bool, error)
}

// Agents tells what is known of an agent now (nil: it does not exist), as
// authz knows it: the projection while the change feeds are live, else the
// registry.
type Agents interface {
	Agent(ctx context.Context, agentID string) (*tokencheck.Agent, error)
}

// Auditor records what the service decided (libs/auditlog's RedisEmitter:
// it never blocks long, and buffers while Redis is slow).
type Auditor interface {
	Emit(ctx context.Context, e auditlog.Event) error
}

// Config holds the service's dependencies.
type Config struct {
	Auth        Authenticator
	Tokens      Tokens
	Verifier    Verifier
	Revocations Revocations
	Agents      Agents
	Audit       Auditor // nil: nothing is audited
	Metrics     *Metrics
	Logger      *slog.Logger
	Now         func() time.Time // default time.Now
}

// Service implements the endpoints.
type Service struct {
	cfg Config
}

// New returns a service.
func New(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{cfg: cfg}
}

// TokenRequest is a token endpoint request.
type TokenRequest struct {
	Credentials ClientCredentials
	GrantType   string
	Scope       string // as sent; empty means all the agent's scopes
}

// TokenResponse is RFC 6749 §5.1's successful answer.
type TokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope,omitempty"`
}

// Token runs the client_credentials grant.
func (s *Service) Token(ctx context.Context, req TokenRequest) (TokenResponse, error) {
	resp, client, claims, err := s.token(ctx, req)
	s.cfg.Metrics.issued(err)
	s.auditToken(ctx, req, client, claims, err)
	return resp, err
}

func (s *Service) token(ctx context.Context, req TokenRequest) (TokenResponse, *Client, accesstoken.Claims, error) {
	var claims accesstoken.Claims
	switch req.GrantType {
	case GrantClientCredentials:
	case "":
		return TokenResponse{}, nil, claims, ErrInvalidRequest.WithMessage("grant_type is required")
	default:
		return TokenResponse{}, nil, claims, ErrUnsupportedGrant
	}
	requested, ok := ParseScope(req.Scope)
	if !ok {
		return TokenResponse{}, nil, claims, ErrInvalidScope.WithMessage("scope is not a space-delimited list of scope tokens")
	}
	client, err := s.cfg.Auth.Authenticate(ctx, req.Credentials, true)
	if err != nil {
		return TokenResponse{}, nil, claims, err
	}
	if err := mayObtainTokens(client); err != nil {
		return TokenResponse{}, &client, claims, err
	}
	granted, ok := grant(requested, client.Scopes)
	if !ok {
		return TokenResponse{}, &client, claims, ErrInvalidScope
	}
	scope := strings.Join(granted, " ")
	token, claims, err := s.cfg.Tokens.Issue(ctx, issuer.Subject{
		AgentID: client.AgentID, ClientID: client.ClientID, CredentialID: client.CredentialID, Scope: scope,
		Owner: client.Owner,
	})
	if errors.Is(err, issuer.ErrUnavailable) && !errors.Is(err, context.Canceled) {
		// Fail closed: Vault transit is unreachable; no token, a 503.
		return TokenResponse{}, &client, claims, ErrUnavailable.WithMessage("the service cannot sign tokens right now; retry later")
	}
	if err != nil {
		return TokenResponse{}, &client, claims, err
	}
	return TokenResponse{
		AccessToken: token, TokenType: "Bearer", ExpiresIn: claims.Expiry - claims.IssuedAt, Scope: scope,
	}, &client, claims, nil
}

func mayObtainTokens(c Client) error {
	switch c.AgentStatus {
	case StatusActive:
		return nil
	case StatusDecommissioned:
		// Its credentials are revoked: the credentials service says
		// invalid_client for it too.
		return ErrInvalidClient
	default:
		return ErrUnauthorizedClient.WithMessage("the agent is %s", c.AgentStatus)
	}
}

// Caller is who calls introspection: a client with its credentials, or a
// bearer of an access token.
type Caller struct {
	Credentials *ClientCredentials
	Bearer      string
}

// IntrospectRequest asks about Token.
type IntrospectRequest struct {
	Caller Caller
	Token  string
}

// Introspection is RFC 7662 §2.2's answer; inactive tokens are just
// {"active": false}. Scope is what the token may do now: its scopes that
// its agent still holds.
type Introspection struct {
	Active    bool     `json:"active"`
	Scope     string   `json:"scope,omitempty"`
	Owner     string   `json:"owner,omitempty"`
	ClientID  string   `json:"client_id,omitempty"`
	TokenType string   `json:"token_type,omitempty"`
	Exp       int64    `json:"exp,omitempty"`
	Iat       int64    `json:"iat,omitempty"`
	Sub       string   `json:"sub,omitempty"`
	Aud       []string `json:"aud,omitempty"`
	Iss       string   `json:"iss,omitempty"`
	Jti       string   `json:"jti,omitempty"`
}

// Introspect tells whether Token is active, to callers holding
// tokens:introspect.
func (s *Service) Introspect(ctx context.Context, req IntrospectRequest) (Introspection, error) {
	if err := s.authorizeIntrospection(ctx, req.Caller); err != nil {
		s.cfg.Metrics.introspected("denied")
		return Introspection{}, err
	}
	claims, agent, err := s.inspect(ctx, req.Token)
	if err != nil {
		return Introspection{}, err
	}
	if agent == nil {
		s.cfg.Metrics.introspected("inactive")
		return Introspection{Active: false}, nil
	}
	s.cfg.Metrics.introspected("active")
	scopes, _ := ParseScope(claims.Scope)
	return Introspection{
		Active: true, Scope: strings.Join(tokencheck.EffectiveScopes(scopes, agent.Scopes), " "),
		Owner: agent.Owner, ClientID: claims.ClientID, TokenType: "Bearer",
		Exp: claims.Expiry, Iat: claims.IssuedAt, Sub: claims.Subject, Aud: claims.Audience,
		Iss: claims.Issuer, Jti: claims.ID,
	}, nil
}

func (s *Service) authorizeIntrospection(ctx context.Context, c Caller) error {
	switch {
	case c.Credentials != nil:
		client, err := s.cfg.Auth.Authenticate(ctx, *c.Credentials, true)
		if err != nil {
			return err
		}
		if err := mayObtainTokens(client); err != nil {
			return err
		}
		if !contains(client.Scopes, ScopeIntrospect) {
			return ErrInsufficientScope
		}
		return nil
	case c.Bearer != "":
		claims, agent, err := s.inspect(ctx, c.Bearer)
		if err != nil {
			return err
		}
		if agent == nil {
			return ErrInvalidToken
		}
		scopes, _ := ParseScope(claims.Scope)
		if !contains(tokencheck.EffectiveScopes(scopes, agent.Scopes), ScopeIntrospect) {
			return ErrInsufficientScope
		}
		return nil
	default:
		return ErrInvalidClient
	}
}

// inspect verifies a token and tells whether it is active now, by the
// rules authz applies to every API call: libs/accesstoken's Verify (signed
// by a published key, this issuer and audience, within its validity with
// authz's clock skew), not revoked, nor its credential, and usable by
// tokencheck.Judge (its agent exists, is active, was not suspended since
// the token was issued and is still of the token's owner). It returns the
// agent when the token is active (nil otherwise); only a failing
// dependency is an error.
func (s *Service) inspect(ctx context.Context, token string) (*accesstoken.Verified, *tokencheck.Agent, error) {
	claims, err := s.cfg.Verifier.Verify(ctx, token)
	if err != nil {
		return nil, nil, nil
	}
	t := tokencheck.Token{IssuedAt: claims.IssuedAt, Owner: claims.Owner}
	if t.JTIRevoked, err = s.cfg.Revocations.TokenRevoked(ctx, claims.ID); err != nil {
		return claims, nil, unavailable(err)
	}
	if claims.CredentialID != "" && !t.JTIRevoked {
		if t.CredentialRevoked, err = s.cfg.Revocations.CredentialRevoked(ctx, claims.CredentialID); err != nil {
			return claims, nil, unavailable(err)
		}
	}
	var agent *tokencheck.Agent
	if !t.JTIRevoked && !t.CredentialRevoked {
		if agent, err = s.cfg.Agents.Agent(ctx, claims.Subject); err != nil {
			return claims, nil, unavailable(err)
		}
	}
	if v, _ := tokencheck.Judge(t, agent); v != tokencheck.Usable {
		return claims, nil, nil
	}
	return claims, agent, nil
}

// RevokeRequest is an RFC 7009 revocation request.
type RevokeRequest struct {
	Credentials ClientCredentials
	Token       string
	// TokenTypeHint is ignored: this server issues access tokens only.
	TokenTypeHint string
}

// Revoke puts the token's jti on the denylist until the token expires. A
// token that is not valid (not ours, malformed, expired: Verify's rules)
// needs nothing (200 per RFC 7009 §2.2); a token of another client is
// refused.
func (s *Service) Revoke(ctx context.Context, req RevokeRequest) error {
	client, err := s.cfg.Auth.Authenticate(ctx, req.Credentials, true)
	if err != nil {
		s.cfg.Metrics.revoked("denied")
		return err
	}
	claims, err := s.cfg.Verifier.Verify(ctx, req.Token)
	if err != nil {
		s.cfg.Metrics.revoked("ignored")
		return nil
	}
	if claims.ClientID != client.ClientID {
		s.cfg.Metrics.revoked("denied")
		return ErrUnauthorizedClient.WithMessage("the token was not issued to this client")
	}
	exp := time.Unix(claims.Expiry, 0)
	if !exp.After(s.cfg.Now()) {
		s.cfg.Metrics.revoked("ignored")
		return nil
	}
	if err := s.cfg.Revocations.RevokeToken(ctx, claims.ID, exp); err != nil {
		return unavailable(err)
	}
	s.cfg.Metrics.revoked("revoked")
	s.emit(ctx, auditlog.Event{
		Actor: client.AgentID, Action: auditlog.ActionTokenRevoked, Outcome: auditlog.OutcomeSuccess,
		Target: "token:" + claims.ID, AgentID: auditAgentID(client.AgentID), Owner: client.Owner,
		Details: map[string]string{"credential_id": claims.CredentialID},
	})
	return nil
}

// unavailable keeps an error that already speaks the API's language and
// turns an infrastructure failure into a 503.
func unavailable(err error) error {
	if apierror.As(err) != nil {
		return err
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	return ErrUnavailable
}
