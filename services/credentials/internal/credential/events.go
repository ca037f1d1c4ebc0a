package credential

import (
	"context"
	"log/slog"
	"time"

	"github.com/google/uuid"
)

// EventType names a committed change to a credential in the service's
// change feed (agentidp.credentials.v1.CredentialEventsService), which the
// token service follows to drop cached authentications and the audit
// service to record the change.
type EventType string

const (
	EventCreated EventType = "created"
	EventRotated EventType = "rotated"
	// EventRevoked includes revocations caused by a decommissioning.
	EventRevoked EventType = "revoked"
	// EventGraceEnded: a rotation's previous secret stopped working (only
	// for rotations with a grace period; without one, "rotated" says it).
	EventGraceEnded EventType = "grace_ended"
)

// Event is one entry of the feed. It never holds a secret or a hash.
type Event struct {
	Sequence     int64
	Type         EventType
	OccurredAt   time.Time
	CredentialID uuid.UUID
	AgentID      uuid.UUID
	// Who asked (libs/requestinfo): an agent id or "system".
	Actor, RequestID, SourceAddress string
	// Owner is the agent's owner when the event was written: whose audit
	// log it belongs to.
	Owner string
}

type ownerKey struct{}

// WithOwner tells the store, writing the events of a change, whose agent
// the change concerns (the service resolved it to authorise the call).
// Without it the store takes the owner from the projection.
func WithOwner(ctx context.Context, owner string) context.Context {
	return context.WithValue(ctx, ownerKey{}, owner)
}

// OwnerFrom returns the owner WithOwner recorded in ctx.
func OwnerFrom(ctx context.Context) (string, bool) {
	o, ok := ctx.Value(ownerKey{}).(string)
	return o, ok
}

// GraceStore ends grace periods. Implementations must pass storetest's
// suite.
type GraceStore interface {
	// EndGracePeriods records a grace_ended event for every rotation whose
	// grace period has passed at now and returns how many it recorded.
	EndGracePeriods(ctx context.Context, now time.Time) (int, error)
}

// RunGraceSweeper emits grace_ended events every interval until ctx ends.
// Verification never depends on it (it compares times itself); the event
// only tells caches elsewhere.
func RunGraceSweeper(ctx context.Context, store GraceStore, interval time.Duration, logger *slog.Logger) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if _, err := store.EndGracePeriods(ctx, time.Now().UTC().Truncate(time.Microsecond)); err != nil && ctx.Err() == nil {
				logger.Warn("recording ended grace periods failed; will retry", "error", err)
			}
		}
	}
}
