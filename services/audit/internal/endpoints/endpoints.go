// Package endpoints exposes the audit Service as go-kit endpoints, the
// transport-neutral layer between the domain and gRPC.
package endpoints

import (
	"context"

	"github.com/go-kit/kit/endpoint"

	"github.com/sentryagent/agentidp/libs/auditlog"
	"github.com/sentryagent/agentidp/services/audit/internal/audit"
)

// Set holds one endpoint per use case.
type Set struct {
	Record endpoint.Endpoint
	Get    endpoint.Endpoint
	List   endpoint.Endpoint
	Verify endpoint.Endpoint
}

// RecordRequest carries a batch for Record (from the API source).
type RecordRequest struct{ Events []auditlog.Event }

// GetRequest names an event.
type GetRequest struct{ ID string }

// New wires every endpoint to svc and wraps each in mw (outermost first).
func New(svc audit.Service, mw ...endpoint.Middleware) Set {
	wrap := func(e endpoint.Endpoint) endpoint.Endpoint {
		for i := len(mw) - 1; i >= 0; i-- {
			e = mw[i](e)
		}
		return e
	}
	return Set{
		Record: wrap(func(ctx context.Context, req any) (any, error) {
			return svc.Record(ctx, audit.SourceAPI, req.(RecordRequest).Events)
		}),
		Get: wrap(func(ctx context.Context, req any) (any, error) {
			return svc.Get(ctx, req.(GetRequest).ID)
		}),
		List: wrap(func(ctx context.Context, req any) (any, error) {
			return svc.List(ctx, req.(audit.Query))
		}),
		Verify: wrap(func(ctx context.Context, req any) (any, error) {
			return svc.Verify(ctx, req.(audit.Range))
		}),
	}
}
