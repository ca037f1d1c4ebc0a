package grpc_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"github.com/sentryagent/agentidp/libs/auditlog"
	auditv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/audit/v1"
	"github.com/sentryagent/agentidp/libs/requestinfo"
)

func as(owner string, scopes ...string) context.Context {
	md := metadata.Pairs(requestinfo.HeaderGateway, "true", requestinfo.HeaderAgentID, uuid.NewString(),
		requestinfo.HeaderAgentOwner, requestinfo.EncodeOwner(owner))
	for _, s := range scopes {
		md.Append(requestinfo.HeaderAgentScopes, s)
	}
	return metadata.NewOutgoingContext(context.Background(), md)
}

// TestEachOwnerReadsItsOwnLog: a caller reads only its own owner's events
// (a filter naming another owner finds nothing, another owner's event id is
// not found); platform events and the chain are the platform's.
func TestEachOwnerReadsItsOwnLog(t *testing.T) {
	c := newClients(t)
	now := time.Now()
	ev := func(owner string) *auditv1.AuditEvent {
		return auditlog.ToProto(auditlog.Event{ID: auditlog.NewID(), OccurredAt: now, Actor: "system",
			Action: auditlog.ActionAgentRegistered, Outcome: auditlog.OutcomeSuccess, AgentID: uuid.NewString(), Owner: owner})
	}
	events := []*auditv1.AuditEvent{ev("team-a"), ev("team-a"), ev("team-b"), ev("")}
	if _, err := c.ingest.Record(context.Background(), &auditv1.RecordRequest{Events: events}); err != nil {
		t.Fatal(err)
	}
	a, platform := as("team-a", "audit:read"), as("platform", "audit:read platform:admin")

	list := func(ctx context.Context, req *auditv1.ListAuditEventsRequest) []*auditv1.AuditEvent {
		t.Helper()
		resp, err := c.audit.ListAuditEvents(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return resp.GetEvents()
	}
	got := list(a, &auditv1.ListAuditEventsRequest{})
	if len(got) != 2 || got[0].GetOwner() != "team-a" || got[1].GetOwner() != "team-a" {
		t.Fatalf("team-a's log: %v", got)
	}
	if got := list(a, &auditv1.ListAuditEventsRequest{Owner: "team-b"}); len(got) != 0 {
		t.Fatalf("team-a reading team-b's: %v", got)
	}
	if got := list(a, &auditv1.ListAuditEventsRequest{AgentId: events[2].GetAgentId()}); len(got) != 0 {
		t.Fatalf("team-a reading team-b's agent: %v", got)
	}
	if got := list(platform, &auditv1.ListAuditEventsRequest{}); len(got) != 4 {
		t.Fatalf("the platform's view: %d events", len(got))
	}
	if got := list(platform, &auditv1.ListAuditEventsRequest{Owner: "team-b"}); len(got) != 1 {
		t.Fatalf("the platform filtering team-b: %v", got)
	}

	_, err := c.audit.GetAuditEvent(a, &auditv1.GetAuditEventRequest{EventId: events[2].GetEventId()})
	wantError(t, err, codes.NotFound, "AUDIT_EVENT_NOT_FOUND", "")
	_, err = c.audit.GetAuditEvent(a, &auditv1.GetAuditEventRequest{EventId: events[3].GetEventId()})
	wantError(t, err, codes.NotFound, "AUDIT_EVENT_NOT_FOUND", "")
	if _, err := c.audit.GetAuditEvent(a, &auditv1.GetAuditEventRequest{EventId: events[0].GetEventId()}); err != nil {
		t.Fatal(err)
	}

	_, err = c.audit.VerifyAuditChain(a, &auditv1.VerifyAuditChainRequest{})
	wantError(t, err, codes.PermissionDenied, "PLATFORM_ADMIN_REQUIRED", "")
	if v, err := c.audit.VerifyAuditChain(platform, &auditv1.VerifyAuditChainRequest{}); err != nil || !v.GetOk() {
		t.Fatalf("platform verify: %v %v", v, err)
	}
}
