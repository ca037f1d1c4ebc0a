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
	// Checkpoints lists the signed checkpoints.
	Checkpoints endpoint.Endpoint
}

// RecordRequest carries a batch for Record (from the API source).
type RecordRequest struct{ Events []auditlog.Event }

// GetRequest names an event.
type GetRequest struct{ ID string }

// New wires every endpoint to svc. Endpoints take no middleware: what
// applies to every call (logging, metrics, request info, error mapping,
// recovery) is libs/grpcserver's interceptors (docs/architecture.md,
// "Anatomy of a service").
func New(svc audit.Service) Set {
	return Set{
		Record: func(ctx context.Context, req any) (any, error) {
			return svc.Record(ctx, audit.SourceAPI, req.(RecordRequest).Events)
		},
		Get: func(ctx context.Context, req any) (any, error) {
			return svc.Get(ctx, req.(GetRequest).ID)
		},
		List: func(ctx context.Context, req any) (any, error) {
			return svc.List(ctx, req.(audit.Query))
		},
		Verify: func(ctx context.Context, req any) (any, error) {
			return svc.Verify(ctx, req.(audit.Range))
		},
		Checkpoints: func(ctx context.Context, req any) (any, error) {
			return svc.ListCheckpoints(ctx, req.(audit.CheckpointQuery))
		},
	}
}
