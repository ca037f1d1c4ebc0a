// Package endpoints exposes the registry's Service as go-kit endpoints, the
// transport-neutral layer between the domain and gRPC.
package endpoints

import (
	"context"

	"github.com/go-kit/kit/endpoint"

	"github.com/sentryagent/agentidp/services/registry/internal/agent"
)

// Set holds one endpoint per use case.
type Set struct {
	Register     endpoint.Endpoint
	Get          endpoint.Endpoint
	List         endpoint.Endpoint
	Update       endpoint.Endpoint
	Decommission endpoint.Endpoint
}

// RegisterRequest asks to register an agent.
type RegisterRequest struct {
	Fields    agent.Fields
	RequestID string
}

// GetRequest names an agent.
type GetRequest struct{ ID string }

// DecommissionRequest names the agent to decommission.
type DecommissionRequest struct {
	ID      string
	IfMatch string
}

// New wires every endpoint to svc. Endpoints take no middleware: what
// applies to every call (logging, metrics, request info, error mapping,
// recovery) is libs/grpcserver's interceptors (docs/architecture.md,
// "Anatomy of a service").
func New(svc agent.Service) Set {
	return Set{
		Register: func(ctx context.Context, req any) (any, error) {
			r := req.(RegisterRequest)
			return svc.Register(ctx, r.Fields, r.RequestID)
		},
		Get: func(ctx context.Context, req any) (any, error) {
			return svc.Get(ctx, req.(GetRequest).ID)
		},
		List: func(ctx context.Context, req any) (any, error) {
			return svc.List(ctx, req.(agent.ListQuery))
		},
		Update: func(ctx context.Context, req any) (any, error) {
			return svc.Update(ctx, req.(agent.Update))
		},
		Decommission: func(ctx context.Context, req any) (any, error) {
			r := req.(DecommissionRequest)
			return svc.Decommission(ctx, r.ID, r.IfMatch)
		},
	}
}
