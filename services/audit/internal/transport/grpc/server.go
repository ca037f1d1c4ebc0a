// Package grpc serves the audit endpoints as agentidp.audit.v1.AuditService
// (and, through Envoy's transcoder, as the REST API under /v1/audit) and
// AuditIngestService (internal).
package grpc

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
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
	get, list, verify, checkpoints kitgrpc.Handler
}

var _ auditv1.AuditServiceServer = (*server)(nil)

// NewServer adapts the endpoint set to AuditService.
func NewServer(set endpoints.Set) auditv1.AuditServiceServer {
	return &server{
		get:         kitgrpc.NewServer(set.Get, decodeGet, encodeEvent),
		list:        kitgrpc.NewServer(set.List, decodeList, encodeList),
		verify:      kitgrpc.NewServer(set.Verify, decodeVerify, encodeVerify),
		checkpoints: kitgrpc.NewServer(set.Checkpoints, decodeCheckpoints, encodeCheckpoints),
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

func (s *server) ListAuditCheckpoints(ctx context.Context, req *auditv1.ListAuditCheckpointsRequest) (*auditv1.ListAuditCheckpointsResponse, error) {
	_, resp, err := s.checkpoints.ServeGRPC(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.(*auditv1.ListAuditCheckpointsResponse), nil
}

func decodeCheckpoints(_ context.Context, req any) (any, error) {
	r := req.(*auditv1.ListAuditCheckpointsRequest)
	q := audit.CheckpointQuery{PageSize: audit.DefaultCheckpointPageSize, PageToken: r.GetPageToken(), From: r.GetFromSequence()}
	if r.PageSize != nil {
		q.PageSize = int(r.GetPageSize())
	}
	return q, nil
}

func encodeCheckpoints(_ context.Context, resp any) (any, error) {
	page := resp.(audit.CheckpointPage)
	out := &auditv1.ListAuditCheckpointsResponse{NextPageToken: page.NextPageToken,
		Checkpoints: make([]*auditv1.AuditCheckpoint, len(page.Checkpoints))}
	for i, c := range page.Checkpoints {
		out.Checkpoints[i] = CheckpointToProto(c)
	}
	return out, nil
}

// CheckpointToProto converts a checkpoint (the API's, and the file sink's
// JSON line as protojson).
func CheckpointToProto(c audit.Checkpoint) *auditv1.AuditCheckpoint {
	return &auditv1.AuditCheckpoint{Sequence: c.Sequence, Hash: hex.EncodeToString(c.Hash),
		SignedAt: timestamppb.New(c.SignedAt), KeyId: c.KeyID, Algorithm: c.Algorithm,
		Signature: base64.StdEncoding.EncodeToString(c.Signature)}
}

// CheckpointFromProto parses a published checkpoint (an auditor's copy).
func CheckpointFromProto(p *auditv1.AuditCheckpoint) (audit.Checkpoint, error) {
	h, err := hex.DecodeString(p.GetHash())
	if err != nil || len(h) != 32 {
		return audit.Checkpoint{}, errors.New("hash is not 64 hex digits")
	}
	sig, err := base64.StdEncoding.DecodeString(p.GetSignature())
	if err != nil || len(sig) == 0 {
		return audit.Checkpoint{}, errors.New("signature is not base64")
	}
	if !p.GetSignedAt().IsValid() || p.GetSequence() < 1 {
		return audit.Checkpoint{}, errors.New("sequence or signedAt is missing")
	}
	return audit.Checkpoint{Sequence: p.GetSequence(), Hash: h, SignedAt: p.GetSignedAt().AsTime().UTC(),
		KeyID: p.GetKeyId(), Algorithm: p.GetAlgorithm(), Signature: sig}, nil
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
	out := &auditv1.VerifyAuditChainResponse{Ok: v.OK, FromSequence: v.From, ToSequence: v.To, EventsChecked: v.Checked,
		CheckpointsChecked: v.CheckpointsChecked, CheckpointedThrough: v.CheckpointedThrough}
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
