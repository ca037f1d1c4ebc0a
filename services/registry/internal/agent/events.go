package agent

import (
	"context"
	"time"

	"github.com/sentryagent/agentidp/libs/requestinfo"
)

// EventType names a committed change to an agent in the registry's feed.
type EventType string

const (
	EventRegistered     EventType = "registered"
	EventUpdated        EventType = "updated"
	EventSuspended      EventType = "suspended"
	EventReactivated    EventType = "reactivated"
	EventDecommissioned EventType = "decommissioned"
)

// Event is one entry of the feed.
type Event struct {
	Sequence   int64
	Type       EventType
	OccurredAt time.Time
	// Agent is the agent's state when the event is read.
	Agent Agent
	// Request is who made the change, through which request.
	Request requestinfo.Info
}

// ChangeType classifies the change from before to after: a status change
// names the lifecycle step; anything else is an update.
func ChangeType(before, after Agent) EventType {
	if before.Status == after.Status {
		return EventUpdated
	}
	switch after.Status {
	case StatusSuspended:
		return EventSuspended
	case StatusDecommissioned:
		return EventDecommissioned
	default:
		return EventReactivated
	}
}

// EventLog reads the feed. Store implementations write it in the same
// transaction as each change.
type EventLog interface {
	// EventsAfter returns up to limit events with a sequence greater than after.
	EventsAfter(ctx context.Context, after int64, limit int) ([]Event, error)
	// LastSequence returns the newest committed event's sequence (0: none).
	LastSequence(ctx context.Context) (int64, error)
	// WaitForEvents returns when new events may have been committed, when
	// maxWait has passed, or when ctx ends.
	WaitForEvents(ctx context.Context, maxWait time.Duration)
}
