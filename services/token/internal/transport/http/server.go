// Package http is the token service's public HTTP transport: the OAuth
// endpoints (go-kit HTTP servers over internal/endpoints), discovery
// (JWKS, RFC 8414 metadata) and health.
package http

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	kithttp "github.com/go-kit/kit/transport/http"

	"github.com/sentryagent/agentidp/libs/health"
	"github.com/sentryagent/agentidp/services/token/internal/endpoints"
	"github.com/sentryagent/agentidp/services/token/internal/keys"
	"github.com/sentryagent/agentidp/services/token/internal/oauth"
)

// Routes, for one grep.
const (
	PathToken      = "/oauth2/token"
	PathIntrospect = "/oauth2/introspect"
	PathRevoke     = "/oauth2/revoke"
	PathJWKS       = "/.well-known/jwks.json"
	PathMetadata   = "/.well-known/oauth-authorization-server"
)

// KeySet gives the current published keys (a *keys.Manager).
type KeySet interface {
	Set() *keys.Set
}

// Config configures the handler.
type Config struct {
	Endpoints endpoints.Set
	Keys      KeySet
	// Issuer is the public base URL (the gateway's); endpoint URLs in the
	// metadata derive from it.
	Issuer string
	// JWKSMaxAge is the JWKS Cache-Control max-age; key pre-publication
	// is at least this long.
	JWKSMaxAge time.Duration
	Checker    *health.Checker
	Logger     *slog.Logger
	// Instrument wraps the routes (metrics); it sees the matched pattern.
	Instrument func(http.Handler) http.Handler
}

// NewHandler returns the public listener's routes.
func NewHandler(cfg Config) http.Handler {
	opts := []kithttp.ServerOption{kithttp.ServerErrorEncoder(encodeError)}
	mux := http.NewServeMux()
	mux.Handle(PathToken, post(kithttp.NewServer(cfg.Endpoints.Token, decodeToken, encodeJSON, opts...)))
	mux.Handle(PathIntrospect, post(kithttp.NewServer(cfg.Endpoints.Introspect, decodeIntrospect, encodeJSON, opts...)))
	mux.Handle(PathRevoke, post(kithttp.NewServer(cfg.Endpoints.Revoke, decodeRevoke, encodeRevoked, opts...)))
	mux.Handle("GET "+PathJWKS, jwksHandler(cfg.Keys, cfg.JWKSMaxAge))
	mux.Handle("GET "+PathMetadata, metadataHandler(cfg.Issuer))
	mux.Handle("GET /healthz", health.LiveHandler())
	mux.Handle("GET /readyz", cfg.Checker.ReadyHandler())
	mux.Handle("/", http.HandlerFunc(noRoute))
	var h http.Handler = mux
	if cfg.Instrument != nil {
		h = cfg.Instrument(mux)
	}
	return accessLog(cfg.Logger, h)
}

// post answers other methods with 405 in the OAuth error format.
func post(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			noStore(w.Header())
			w.WriteHeader(http.StatusMethodNotAllowed)
			_, _ = w.Write([]byte(`{"error":"invalid_request","error_description":"use POST"}` + "\n"))
			return
		}
		h.ServeHTTP(w, r)
	})
}

func jwksHandler(ks KeySet, maxAge time.Duration) http.Handler {
	cacheControl := "public, max-age=" + strconv.Itoa(int(maxAge/time.Second))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		set := ks.Set()
		h := w.Header()
		h.Set("Cache-Control", cacheControl)
		h.Set("ETag", set.ETag())
		if r.Header.Get("If-None-Match") == set.ETag() {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		h.Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write(set.JWKS())
	})
}

// Metadata is the RFC 8414 authorization server metadata.
type Metadata struct {
	Issuer                            string   `json:"issuer"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	IntrospectionEndpoint             string   `json:"introspection_endpoint"`
	RevocationEndpoint                string   `json:"revocation_endpoint"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	IntrospectionAuthMethodsSupported []string `json:"introspection_endpoint_auth_methods_supported"`
	RevocationAuthMethodsSupported    []string `json:"revocation_endpoint_auth_methods_supported"`
	AccessTokenSigningAlgsSupported   []string `json:"access_token_signing_alg_values_supported"`
	// ClaimsSupported lists the access tokens' claims (RFC 8414 §2 lets an
	// authorization server list the claims it can supply).
	ClaimsSupported []string `json:"claims_supported"`
}

// Claims are the claims of every access token: RFC 9068's, credential_id
// (revoking the credential ends its tokens) and owner (the agent's owner,
// its tenant).
var Claims = []string{"iss", "sub", "aud", "exp", "iat", "jti", "client_id", "scope", "credential_id", "owner"}

// NewMetadata describes a server at issuer.
func NewMetadata(issuer string) Metadata {
	methods := []string{"client_secret_basic", "client_secret_post"}
	return Metadata{
		Issuer:                issuer,
		TokenEndpoint:         issuer + PathToken,
		JWKSURI:               issuer + PathJWKS,
		IntrospectionEndpoint: issuer + PathIntrospect,
		RevocationEndpoint:    issuer + PathRevoke,
		GrantTypesSupported:   []string{oauth.GrantClientCredentials},
		// No authorization endpoint: no response types (RFC 8414 requires
		// the member).
		ResponseTypesSupported:            []string{},
		TokenEndpointAuthMethodsSupported: methods,
		IntrospectionAuthMethodsSupported: methods,
		RevocationAuthMethodsSupported:    methods,
		AccessTokenSigningAlgsSupported:   []string{keys.ES256, keys.EdDSA},
		ClaimsSupported:                   Claims,
	}
}
