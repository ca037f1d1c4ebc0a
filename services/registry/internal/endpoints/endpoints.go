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

// New wires every endpoint to svc and wraps each in mw (outermost first).
func New(svc agent.Service, mw ...endpoint.Middleware) Set {
	wrap := func(e endpoint.Endpoint) endpoint.Endpoint {
		for i := len(mw) - 1; i >= 0; i-- {
			e = mw[i](e)
		}
		return e
	}
	return Set{
		Register: wrap(func(ctx context.Context, req any) (any, error) {
			r := req.(RegisterRequest)
			return svc.Register(ctx, r.Fields, r.RequestID)
		}),
		Get: wrap(func(ctx context.Context, req any) (any, error) {
			return svc.Get(ctx, req.(GetRequest).ID)
		}),
		List: wrap(func(ctx context.Context, req any) (any, error) {
			return svc.List(ctx, req.(agent.ListQuery))
		}),
		Update: wrap(func(ctx context.Context, req any) (any, error) {
			return svc.Update(ctx, req.(agent.Update))
		}),
		Decommission: wrap(func(ctx context.Context, req any) (any, error) {
			r := req.(DecommissionRequest)
			return svc.Decommission(ctx, r.ID, r.IfMatch)
		}),
	}
}
