package auditlog

import (
	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	auditv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/audit/v1"
)

// ToProto converts e for the wire (Record requests, stream entries).
func ToProto(e Event) *auditv1.AuditEvent {
	out := &auditv1.AuditEvent{
		Actor: e.Actor, Action: e.Action, Target: e.Target, AgentId: e.AgentID, Outcome: e.Outcome,
		RequestId: e.RequestID, SourceAddress: e.SourceAddress, Details: e.Details, Owner: e.Owner,
	}
	if e.ID != uuid.Nil {
		out.EventId = e.ID.String()
	}
	if !e.OccurredAt.IsZero() {
		out.OccurredAt = timestamppb.New(e.OccurredAt)
	}
	return out
}

// FromProto converts a wire event. A malformed event_id or occurred_at
// becomes the zero value, which Validate reports with the field's name.
func FromProto(p *auditv1.AuditEvent) Event {
	e := Event{
		Actor: p.GetActor(), Action: p.GetAction(), Target: p.GetTarget(), AgentID: p.GetAgentId(),
		Outcome: p.GetOutcome(), RequestID: p.GetRequestId(), SourceAddress: p.GetSourceAddress(),
		Details: p.GetDetails(), Owner: p.GetOwner(),
	}
	if id, err := uuid.Parse(p.GetEventId()); err == nil && len(p.GetEventId()) == 36 {
		e.ID = id
	} else if p.GetEventId() != "" {
		e.ID = invalidID
	}
	if ts := p.GetOccurredAt(); ts != nil && ts.IsValid() {
		e.OccurredAt = ts.AsTime()
	}
	return e
}

// invalidID stands for an event_id that is present but not a UUID, so that
// Validate says "must be a UUIDv7" rather than "required".
var invalidID = uuid.UUID{0xff}
