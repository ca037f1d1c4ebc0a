package grpc

import (
	"context"
	"fmt"

	kitgrpc "github.com/go-kit/kit/transport/grpc"

	"github.com/sentryagent/agentidp/libs/apierror"
	"github.com/sentryagent/agentidp/libs/auditlog"
	auditv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/audit/v1"
	"github.com/sentryagent/agentidp/services/audit/internal/audit"
	"github.com/sentryagent/agentidp/services/audit/internal/endpoints"
)

type ingestServer struct {
	auditv1.UnimplementedAuditIngestServiceServer
	record kitgrpc.Handler
}

// NewIngestServer adapts the Record endpoint to AuditIngestService.
func NewIngestServer(set endpoints.Set) auditv1.AuditIngestServiceServer {
	return &ingestServer{record: kitgrpc.NewServer(set.Record, decodeRecord, encodeRecord)}
}

func (s *ingestServer) Record(ctx context.Context, req *auditv1.RecordRequest) (*auditv1.RecordResponse, error) {
	_, resp, err := s.record.ServeGRPC(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.(*auditv1.RecordResponse), nil
}

func decodeRecord(_ context.Context, req any) (any, error) {
	r := req.(*auditv1.RecordRequest)
	events := make([]auditlog.Event, len(r.GetEvents()))
	for i, p := range r.GetEvents() {
		// The chain fields are the audit service's to set.
		if p.GetSequence() != 0 || p.GetHash() != "" || p.GetPrevHash() != "" || p.GetRecordedAt() != nil {
			return nil, apierror.Invalid("FIELD_INVALID", fmt.Sprintf("events[%d]", i),
				"sequence, prevHash, hash and recordedAt are set by the audit service; leave them empty")
		}
		events[i] = auditlog.FromProto(p)
	}
	return endpoints.RecordRequest{Events: events}, nil
}

func encodeRecord(_ context.Context, resp any) (any, error) {
	r := resp.(audit.RecordResult)
	return &auditv1.RecordResponse{Recorded: int32(r.Recorded), Duplicates: int32(r.Duplicates)}, nil
}
