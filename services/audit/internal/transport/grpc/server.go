// Package grpc serves the audit endpoints as agentidp.audit.v1.AuditService
// (and, through Envoy's transcoder, as the REST API under /v1/audit) and
// AuditIngestService (internal).
package grpc

import (
	"context"
	"encoding/hex"
	"time"

	kitgrpc "github.com/go-kit/kit/transport/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sentryagent/agentidp/libs/apierror"
	"github.com/sentryagent/agentidp/libs/auditlog"
	auditv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/audit/v1"
	"github.com/sentryagent/agentidp/services/audit/internal/audit"
	"github.com/sentryagent/agentidp/services/audit/internal/endpoints"
)

type server struct {
	auditv1.UnimplementedAuditServiceServer
	get, list, verify kitgrpc.Handler
}

var _ auditv1.AuditServiceServer = (*server)(nil)

// NewServer adapts the endpoint set to AuditService.
func NewServer(set endpoints.Set) auditv1.AuditServiceServer {
	return &server{
		get:    kitgrpc.NewServer(set.Get, decodeGet, encodeEvent),
		list:   kitgrpc.NewServer(set.List, decodeList, encodeList),
		verify: kitgrpc.NewServer(set.Verify, decodeVerify, encodeVerify),
	}
}

func (s *server) GetAuditEvent(ctx context.Context, req *auditv1.GetAuditEventRequest) (*auditv1.AuditEvent, error) {
	_, resp, err := s.get.ServeGRPC(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.(*auditv1.AuditEvent), nil
}

func (s *server) ListAuditEvents(ctx context.Context, req *auditv1.ListAuditEventsRequest) (*auditv1.ListAuditEventsResponse, error) {
	_, resp, err := s.list.ServeGRPC(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.(*auditv1.ListAuditEventsResponse), nil
}

func (s *server) VerifyAuditChain(ctx context.Context, req *auditv1.VerifyAuditChainRequest) (*auditv1.VerifyAuditChainResponse, error) {
	_, resp, err := s.verify.ServeGRPC(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.(*auditv1.VerifyAuditChainResponse), nil
}

func decodeGet(_ context.Context, req any) (any, error) {
	return endpoints.GetRequest{ID: req.(*auditv1.GetAuditEventRequest).GetEventId()}, nil
}

func encodeEvent(_ context.Context, resp any) (any, error) {
	return eventToProto(resp.(audit.Event)), nil
}

func decodeList(_ context.Context, req any) (any, error) {
	r := req.(*auditv1.ListAuditEventsRequest)
	pageSize := audit.DefaultPageSize
	if r.PageSize != nil {
		pageSize = int(r.GetPageSize())
	}
	agentID, err := audit.ParseAgentID(r.GetAgentId())
	if err != nil {
		return nil, err
	}
	q := audit.Query{PageSize: pageSize, PageToken: r.GetPageToken(), Filter: audit.Filter{
		AgentID: agentID, Action: r.GetAction(), Outcome: r.GetOutcome(), Actor: r.GetActor(), Owner: r.GetOwner(),
	}}
	if q.Filter.Start, err = timestamp("startTime", r.GetStartTime()); err != nil {
		return nil, err
	}
	if q.Filter.End, err = timestamp("endTime", r.GetEndTime()); err != nil {
		return nil, err
	}
	return q, nil
}

func encodeList(_ context.Context, resp any) (any, error) {
	page := resp.(audit.Page)
	out := &auditv1.ListAuditEventsResponse{NextPageToken: page.NextPageToken,
		Events: make([]*auditv1.AuditEvent, len(page.Events))}
	for i, e := range page.Events {
		out.Events[i] = eventToProto(e)
	}
	return out, nil
}

func decodeVerify(_ context.Context, req any) (any, error) {
	r := req.(*auditv1.VerifyAuditChainRequest)
	return audit.Range{From: r.FromSequence, To: r.ToSequence}, nil
}

func encodeVerify(_ context.Context, resp any) (any, error) {
	return VerificationToProto(resp.(audit.Verification)), nil
}

// VerificationToProto converts a verification result (also printed by the
// `audit verify` command as protojson).
func VerificationToProto(v audit.Verification) *auditv1.VerifyAuditChainResponse {
	out := &auditv1.VerifyAuditChainResponse{Ok: v.OK, FromSequence: v.From, ToSequence: v.To, EventsChecked: v.Checked}
	if b := v.Break; b != nil {
		out.FirstBreak = &auditv1.ChainBreak{Sequence: b.Sequence, Kind: b.Kind, Expected: b.Expected, Actual: b.Actual}
		if b.EventID != [16]byte{} {
			out.FirstBreak.EventId = b.EventID.String()
		}
	}
	return out
}

// timestamp converts an optional timestamp filter.
func timestamp(field string, ts *timestamppb.Timestamp) (t time.Time, err error) {
	if ts == nil {
		return t, nil
	}
	if !ts.IsValid() {
		return t, apierror.Invalid("FIELD_INVALID", field, field+" is not a valid timestamp")
	}
	return ts.AsTime(), nil
}

func eventToProto(e audit.Event) *auditv1.AuditEvent {
	p := auditlog.ToProto(e.Event)
	p.Sequence = e.Sequence
	p.PrevHash = hex.EncodeToString(e.PrevHash)
	p.Hash = hex.EncodeToString(e.Hash)
	p.RecordedAt = timestamppb.New(e.RecordedAt)
	return p
}
