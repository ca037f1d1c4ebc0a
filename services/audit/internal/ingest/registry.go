package ingest

import (
	"context"
	"strconv"

	"github.com/sentryagent/agentidp/libs/auditlog"
	"github.com/sentryagent/agentidp/libs/feed"
	registryv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/registry/v1"
	"github.com/sentryagent/agentidp/services/audit/internal/audit"
)

// RegistryFeed is the name of the registry's feed in event ids and cursors.
const RegistryFeed = "registry"

// FollowRegistry records the registry's change feed (WatchAgentEvents)
// until ctx ends, resuming after the sequence saved in cursor.
func (s *Sink) FollowRegistry(ctx context.Context, client registryv1.AgentEventsServiceClient, cursor feed.Cursor) error {
	handle := func(ctx context.Context, batch []*registryv1.AgentEvent) error {
		events := make([]auditlog.Event, len(batch))
		for i, e := range batch {
			events[i] = FromAgentEvent(e)
		}
		_, err := s.record(ctx, audit.SourceRegistry, events)
		return err
	}
	return feed.New(feed.AgentEvents(client), cursor, feed.Config{Name: RegistryFeed, MaxBatch: audit.MaxBatch, Logger: s.Logger}).
		Run(ctx, handle)
}

// FromAgentEvent maps a registry feed entry to an audit event: type
// "registered" becomes action "agent.registered", and so on. The event id
// is derived from the feed sequence, so a replayed entry is the same event.
// The feed carries the agent's current state, not its state at the time of
// the event, so only stable facts go into the details.
func FromAgentEvent(e *registryv1.AgentEvent) auditlog.Event {
	at := e.GetOccurredAt().AsTime()
	agentID := e.GetAgent().GetAgentId()
	return auditlog.Normalize(auditlog.Event{
		ID:            auditlog.DerivedID(RegistryFeed, e.GetSequence(), at),
		OccurredAt:    at,
		Actor:         actor(e.GetActor()),
		Action:        feedAction("agent", e.GetType()),
		Target:        "agent:" + agentID,
		AgentID:       agentID,
		Outcome:       auditlog.OutcomeSuccess,
		RequestID:     e.GetRequestId(),
		SourceAddress: e.GetSourceAddress(),
		Owner:         e.GetAgent().GetOwner(),
		Details:       map[string]string{"feedSequence": strconv.FormatInt(e.GetSequence(), 10)},
	})
}
