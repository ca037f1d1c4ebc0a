package idp

import (
	"context"
	"net/url"
	"strings"
)

// TokensService is the OAuth 2.0 side: tokens for the client's own
// identity, introspection and revocation (/oauth2).
type TokensService struct{ c *Client }

// Issue gets a new access token with client_credentials (RFC 6749 §4.4),
// for scopes or, with none, the client's configured scopes. It bypasses the
// client's token cache; calls on the client use the cache.
func (s *TokensService) Issue(ctx context.Context, scopes ...string) (*TokenResponse, error) {
	if len(scopes) == 0 {
		scopes = s.c.scopes
	}
	form := url.Values{"grant_type": {"client_credentials"}}
	if len(scopes) > 0 {
		form.Set("scope", strings.Join(scopes, " "))
	}
	var out TokenResponse
	// Issuing a token changes nothing that a repeat would duplicate.
	return result(&out, s.c.do(ctx, call{method: "POST", path: "/oauth2/token", form: form, auth: authBasic, retry: true, out: &out}))
}

// Introspect describes a token (RFC 7662). The client's token needs the
// scope tokens:introspect.
func (s *TokensService) Introspect(ctx context.Context, token Secret) (*Introspection, error) {
	if token == "" {
		return nil, invalidArgument("token is empty")
	}
	var out Introspection
	return result(&out, s.c.do(ctx, call{method: "POST", path: "/oauth2/introspect",
		form: url.Values{"token": {token.Reveal()}}, retry: true, out: &out}))
}

// Revoke revokes one of the client's own tokens (RFC 7009). Unknown or
// expired tokens are not an error.
func (s *TokensService) Revoke(ctx context.Context, token Secret) error {
	if token == "" {
		return invalidArgument("token is empty")
	}
	err := s.c.do(ctx, call{method: "POST", path: "/oauth2/revoke",
		form: url.Values{"token": {token.Reveal()}, "token_type_hint": {"access_token"}}, auth: authBasic, retry: true})
	if err == nil {
		s.c.tokens.invalidate(token)
	}
	return err
}
