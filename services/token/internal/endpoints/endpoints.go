// Package endpoints exposes the token service as go-kit endpoints, the
// transport-neutral layer between the domain and HTTP.
package endpoints

import (
	"context"

	"github.com/go-kit/kit/endpoint"

	"github.com/sentryagent/agentidp/services/token/internal/oauth"
)

// Service is what the endpoints call (an *oauth.Service).
type Service interface {
	Token(ctx context.Context, req oauth.TokenRequest) (oauth.TokenResponse, error)
	Introspect(ctx context.Context, req oauth.IntrospectRequest) (oauth.Introspection, error)
	Revoke(ctx context.Context, req oauth.RevokeRequest) error
}

// Set holds one endpoint per use case.
type Set struct {
	Token      endpoint.Endpoint
	Introspect endpoint.Endpoint
	Revoke     endpoint.Endpoint
}

// Revoked is the (empty) response of a revocation.
type Revoked struct{}

// New wires every endpoint to svc. Endpoints take no middleware: what
// applies to every call (access log, metrics, error mapping) is the HTTP
// transport's (docs/architecture.md, "Anatomy of a service").
func New(svc Service) Set {
	return Set{
		Token: func(ctx context.Context, req any) (any, error) {
			return svc.Token(ctx, req.(oauth.TokenRequest))
		},
		Introspect: func(ctx context.Context, req any) (any, error) {
			return svc.Introspect(ctx, req.(oauth.IntrospectRequest))
		},
		Revoke: func(ctx context.Context, req any) (any, error) {
			return Revoked{}, svc.Revoke(ctx, req.(oauth.RevokeRequest))
		},
	}
}
