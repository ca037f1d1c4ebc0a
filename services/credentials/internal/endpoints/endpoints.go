// Package endpoints exposes the credentials service as go-kit endpoints,
// the transport-neutral layer between the domain and gRPC.
package endpoints

import (
	"context"

	"github.com/go-kit/kit/endpoint"

	"github.com/sentryagent/agentidp/services/credentials/internal/credential"
)

// Service is what the endpoints need of the domain.
type Service interface {
	Create(ctx context.Context, agentID string, ttlSeconds int64) (credential.Issued, error)
	List(ctx context.Context, q credential.ListQuery) (credential.Page, error)
	Rotate(ctx context.Context, agentID, credentialID string, graceSeconds int64) (credential.Issued, error)
	Revoke(ctx context.Context, agentID, credentialID string) (credential.Credential, error)
	Verify(ctx context.Context, clientID, clientSecret string) (credential.Verified, error)
}

var _ Service = (*credential.Service)(nil)

// Set holds one endpoint per use case.
type Set struct {
	Create endpoint.Endpoint
	List   endpoint.Endpoint
	Rotate endpoint.Endpoint
	Revoke endpoint.Endpoint
	Verify endpoint.Endpoint
}

// CreateRequest asks for a new credential.
type CreateRequest struct {
	AgentID    string
	TTLSeconds int64
}

// RotateRequest asks for a new secret.
type RotateRequest struct {
	AgentID, CredentialID string
	GraceSeconds          int64
}

// RevokeRequest names a credential.
type RevokeRequest struct{ AgentID, CredentialID string }

// VerifyRequest carries client credentials. Never log it.
type VerifyRequest struct{ ClientID, ClientSecret string }

// New wires every endpoint to svc. Endpoints take no middleware: what
// applies to every call (logging, metrics, request info, error mapping,
// recovery) is libs/grpcserver's interceptors (docs/architecture.md,
// "Anatomy of a service").
func New(svc Service) Set {
	return Set{
		Create: func(ctx context.Context, req any) (any, error) {
			r := req.(CreateRequest)
			return svc.Create(ctx, r.AgentID, r.TTLSeconds)
		},
		List: func(ctx context.Context, req any) (any, error) {
			return svc.List(ctx, req.(credential.ListQuery))
		},
		Rotate: func(ctx context.Context, req any) (any, error) {
			r := req.(RotateRequest)
			return svc.Rotate(ctx, r.AgentID, r.CredentialID, r.GraceSeconds)
		},
		Revoke: func(ctx context.Context, req any) (any, error) {
			r := req.(RevokeRequest)
			return svc.Revoke(ctx, r.AgentID, r.CredentialID)
		},
		Verify: func(ctx context.Context, req any) (any, error) {
			r := req.(VerifyRequest)
			return svc.Verify(ctx, r.ClientID, r.ClientSecret)
		},
	}
}
