package http

import (
	"context"
	"encoding/base64"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/sentryagent/agentidp/services/token/internal/oauth"
)

// maxForm bounds a request body; OAuth requests are a few hundred bytes.
const maxForm = 64 << 10

const formType = "application/x-www-form-urlencoded"

// readForm reads the form-encoded body of a POST (RFC 6749 §3.2, §4.4.2;
// RFC 7662 §2.1; RFC 7009 §2.1). Parameters sent twice are an error
// (RFC 6749 §3.2), and so is a client secret in the URL.
func readForm(r *http.Request) (url.Values, error) {
	if ct := r.Header.Get("Content-Type"); ct != formType {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != formType {
			return nil, oauth.ErrInvalidRequest.WithMessage("the body must be %s", formType)
		}
	}
	if r.URL.RawQuery != "" && strings.Contains(r.URL.RawQuery, "client_secret") {
		return nil, oauth.ErrInvalidRequest.WithMessage("client credentials must not be sent in the URL")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxForm+1))
	if err != nil {
		return nil, oauth.ErrInvalidRequest.WithMessage("the body could not be read")
	}
	if len(body) > maxForm {
		return nil, oauth.ErrInvalidRequest.WithMessage("the body is too large")
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, oauth.ErrInvalidRequest.WithMessage("the body is not valid form encoding")
	}
	for k, v := range form {
		if len(v) > 1 {
			return nil, oauth.ErrInvalidRequest.WithMessage("parameter %s is repeated", k)
		}
	}
	return form, nil
}

// authMode says which Authorization schemes an endpoint accepts.
type authMode int

const (
	clientOnly     authMode = iota // client_secret_basic or client_secret_post
	clientOrBearer                 // introspection: also a bearer token
)

// credentials extracts the caller's client authentication: HTTP Basic
// with form-urlencoded id and secret (RFC 6749 §2.3.1), or client_id and
// client_secret in the body, never both. With clientOrBearer, a bearer
// token (RFC 6750 §2.1) is returned instead.
func credentials(ctx context.Context, r *http.Request, form url.Values, mode authMode) (*oauth.ClientCredentials, string, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, value, _ := strings.Cut(h, " ")
		value = strings.TrimSpace(value)
		switch {
		case strings.EqualFold(scheme, "Basic"):
			id, secret, ok := parseBasic(value)
			if !ok {
				return nil, "", oauth.ErrInvalidClient
			}
			noteClient(ctx, id)
			if form.Has("client_secret") {
				return nil, "", oauth.ErrInvalidRequest.WithMessage("use one client authentication method, not two")
			}
			if cid := form.Get("client_id"); cid != "" && cid != id {
				return nil, "", oauth.ErrInvalidRequest.WithMessage("client_id does not match the Authorization header")
			}
			return &oauth.ClientCredentials{ClientID: id, Secret: secret}, "", nil
		case strings.EqualFold(scheme, "Bearer") && mode == clientOrBearer:
			if value == "" || form.Has("client_secret") {
				return nil, "", oauth.ErrInvalidRequest.WithMessage("use one authentication method, not two")
			}
			return nil, value, nil
		default:
			return nil, "", oauth.ErrInvalidClient
		}
	}
	id, secret := form.Get("client_id"), form.Get("client_secret")
	noteClient(ctx, id)
	if id == "" || secret == "" {
		return nil, "", oauth.ErrInvalidClient
	}
	return &oauth.ClientCredentials{ClientID: id, Secret: secret}, "", nil
}

func parseBasic(value string) (id, secret string, ok bool) {
	raw, err := base64.StdEncoding.DecodeString(value)
	if err != nil {
		return "", "", false
	}
	rawID, rawSecret, found := strings.Cut(string(raw), ":")
	if !found {
		return "", "", false
	}
	// RFC 6749 §2.3.1: both are application/x-www-form-urlencoded first.
	if id, err = url.QueryUnescape(rawID); err != nil || id == "" {
		return "", "", false
	}
	if secret, err = url.QueryUnescape(rawSecret); err != nil || secret == "" {
		return "", "", false
	}
	return id, secret, true
}

func decodeToken(ctx context.Context, r *http.Request) (any, error) {
	form, err := readForm(r)
	if err != nil {
		return nil, err
	}
	creds, _, err := credentials(ctx, r, form, clientOnly)
	if err != nil {
		return nil, err
	}
	return oauth.TokenRequest{Credentials: *creds, GrantType: form.Get("grant_type"), Scope: form.Get("scope")}, nil
}

func decodeIntrospect(ctx context.Context, r *http.Request) (any, error) {
	form, err := readForm(r)
	if err != nil {
		return nil, err
	}
	creds, bearer, err := credentials(ctx, r, form, clientOrBearer)
	if err != nil {
		return nil, err
	}
	token := form.Get("token")
	if token == "" {
		return nil, oauth.ErrInvalidRequest.WithMessage("token is required")
	}
	return oauth.IntrospectRequest{Caller: oauth.Caller{Credentials: creds, Bearer: bearer}, Token: token}, nil
}

func decodeRevoke(ctx context.Context, r *http.Request) (any, error) {
	form, err := readForm(r)
	if err != nil {
		return nil, err
	}
	creds, _, err := credentials(ctx, r, form, clientOnly)
	if err != nil {
		return nil, err
	}
	token := form.Get("token")
	if token == "" {
		return nil, oauth.ErrInvalidRequest.WithMessage("token is required")
	}
	return oauth.RevokeRequest{Credentials: *creds, Token: token, TokenTypeHint: form.Get("token_type_hint")}, nil
}
