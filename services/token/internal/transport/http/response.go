package http

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/sentryagent/agentidp/libs/apierror"
	"github.com/sentryagent/agentidp/services/token/internal/oauth"
)

// Realm names this server in WWW-Authenticate challenges.
const Realm = "agentidp"

// noStore marks responses that carry tokens or token state (RFC 6749 §5.1).
func noStore(h http.Header) {
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
}

func encodeJSON(_ context.Context, w http.ResponseWriter, resp any) error {
	noStore(w.Header())
	return json.NewEncoder(w).Encode(resp)
}

func encodeRevoked(_ context.Context, w http.ResponseWriter, _ any) error {
	// RFC 7009 §2.2: 200, the content is ignored by the client.
	noStore(w.Header())
	w.WriteHeader(http.StatusOK)
	_, err := w.Write([]byte("{}\n"))
	return err
}

// errorBody is RFC 6749 §5.2.
type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// encodeError is the one place where errors become HTTP responses: the
// status is the error kind's, the OAuth code its reason in lower case, and
// anything that is not an *apierror.Error is an opaque server_error.
func encodeError(ctx context.Context, err error, w http.ResponseWriter) {
	e := apierror.As(err)
	if e == nil {
		e = oauth.ErrServer
		if ctx.Err() != nil {
			e = oauth.ErrUnavailable
		}
	}
	code := oauth.ErrorCode(e)
	noteError(ctx, code, err)
	h := w.Header()
	noStore(h)
	switch e.Reason {
	case oauth.ErrInvalidClient.Reason:
		// RFC 6749 §5.2: 401 with the scheme the client should use.
		h.Set("WWW-Authenticate", `Basic realm="`+Realm+`", charset="UTF-8"`)
	case oauth.ErrInvalidToken.Reason:
		h.Set("WWW-Authenticate", `Bearer realm="`+Realm+`", error="invalid_token"`)
	case oauth.ErrInsufficientScope.Reason:
		h.Set("WWW-Authenticate", `Bearer realm="`+Realm+`", error="insufficient_scope", scope="`+oauth.ScopeIntrospect+`"`)
	}
	if s := e.Metadata[oauth.RetryAfterKey]; s != "" {
		h.Set("Retry-After", s)
	} else if e.Kind == apierror.Unavailable {
		// A dependency is down: worth retrying soon (a restarted one is
		// back within about a second; the breaker probes after 5 s).
		h.Set("Retry-After", "1")
	}
	w.WriteHeader(e.Kind.HTTPStatus())
	_ = json.NewEncoder(w).Encode(errorBody{Error: code, Description: e.Message})
}

// noRoute answers a path or method no route has in the API's error shape
// (net/http's default is a text/plain 404 or 405): RFC 6749 §5.2 under
// /oauth2/, where the clients are OAuth clients, and elsewhere the
// google.rpc.Status ROUTE_NOT_FOUND that the gateway gives every other
// path no route matches (a wrong method included).
func noRoute(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	if strings.HasPrefix(r.URL.Path, "/oauth2/") {
		noStore(h)
		w.WriteHeader(http.StatusNotFound)
		_ = json.NewEncoder(w).Encode(errorBody{Error: "invalid_request", Description: "no such endpoint"})
		return
	}
	apierror.WriteHTTP(w, apierror.ErrRouteNotFound, r.Header.Get("X-Request-Id"))
}
