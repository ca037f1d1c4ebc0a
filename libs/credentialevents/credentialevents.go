// Package credentialevents follows the credentials service's change feed
// (agentidp.credentials.v1.CredentialEventsService) for services that react
// to rotations and revocations: it resumes from a persisted cursor,
// reconnects with backoff, and hands each event to the caller in feed order.
// It is the twin of libs/agentevents.
package credentialevents

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	credentialsv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/credentials/v1"
)

// Event types of the feed.
const (
	Created    = "created"
	Rotated    = "rotated"
	Revoked    = "revoked"
	GraceEnded = "grace_ended"
)

// Cursor persists the sequence of the last event a consumer handled
// (agentevents.PostgresCursor is one).
type Cursor interface {
	Load(ctx context.Context) (int64, error)
	Save(ctx context.Context, sequence int64) error
}

// Handler reacts to one event. It must be idempotent: after a crash the
// events since the last saved cursor are delivered again. An error stops
// progress; the event is retried after a backoff.
type Handler func(ctx context.Context, e *credentialsv1.CredentialEvent) error

// Follow streams events after the cursor into handle until ctx ends,
// saving the cursor after each handled event. It returns only when ctx ends.
func Follow(ctx context.Context, client credentialsv1.CredentialEventsServiceClient, cursor Cursor, handle Handler, logger *slog.Logger) error {
	var wait time.Duration
	for ctx.Err() == nil {
		progressed, err := followOnce(ctx, client, cursor, handle)
		if ctx.Err() != nil {
			return nil
		}
		switch {
		case progressed || wait == 0:
			wait = 100 * time.Millisecond
		case wait < 5*time.Second:
			wait *= 2
		}
		logger.Warn("credential event feed interrupted; resuming", "error", err, "retry_in", wait)
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
	return nil
}

func followOnce(ctx context.Context, client credentialsv1.CredentialEventsServiceClient, cursor Cursor, handle Handler) (progressed bool, err error) {
	after, err := cursor.Load(ctx)
	if err != nil {
		return false, fmt.Errorf("load cursor: %w", err)
	}
	// The stream is long-lived: no deadline, cancelled with ctx.
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := client.WatchCredentialEvents(sctx, &credentialsv1.WatchCredentialEventsRequest{AfterSequence: after})
	if err != nil {
		return false, err
	}
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return progressed, errors.New("the credentials service closed the feed")
		}
		if err != nil {
			return progressed, err
		}
		e := resp.GetEvent()
		if after >= 0 && e.GetSequence() <= after {
			continue // a replay after a reconnect
		}
		if err := handle(ctx, e); err != nil {
			return progressed, fmt.Errorf("handle event %d (%s): %w", e.GetSequence(), e.GetType(), err)
		}
		if err := cursor.Save(ctx, e.GetSequence()); err != nil {
			return progressed, fmt.Errorf("save cursor: %w", err)
		}
		after, progressed = e.GetSequence(), true
	}
}
