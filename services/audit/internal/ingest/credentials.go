package ingest

import (
	"context"
	"strconv"

	"github.com/sentryagent/agentidp/libs/auditlog"
	"github.com/sentryagent/agentidp/libs/feed"
	credentialsv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/credentials/v1"
	"github.com/sentryagent/agentidp/services/audit/internal/audit"
)

// CredentialsFeed is the name of the credentials feed in event ids and cursors.
const CredentialsFeed = "credentials"

// credentialActions maps the feed's types to actions; other types become
// "credential.<type>".
var credentialActions = map[string]string{
	feed.CredentialCreated:    auditlog.ActionCredentialGenerated,
	feed.CredentialRotated:    auditlog.ActionCredentialRotated,
	feed.CredentialRevoked:    auditlog.ActionCredentialRevoked,
	feed.CredentialGraceEnded: auditlog.ActionCredentialGraceEnded,
}

// FollowCredentials records the credentials service's change feed
// (WatchCredentialEvents) until ctx ends.
func (s *Sink) FollowCredentials(ctx context.Context, client credentialsv1.CredentialEventsServiceClient, cursor feed.Cursor) error {
	handle := func(ctx context.Context, batch []*credentialsv1.CredentialEvent) error {
		events := make([]auditlog.Event, len(batch))
		for i, e := range batch {
			events[i] = FromCredentialEvent(e)
		}
		_, err := s.record(ctx, audit.SourceCredentials, events)
		return err
	}
	return feed.New(feed.CredentialEvents(client), cursor, feed.Config{Name: CredentialsFeed, MaxBatch: audit.MaxBatch, Logger: s.Logger}).
		Run(ctx, handle)
}

// FromCredentialEvent maps a credentials feed entry to an audit event. It
// never carries a secret: the feed has none.
func FromCredentialEvent(e *credentialsv1.CredentialEvent) auditlog.Event {
	at := e.GetOccurredAt().AsTime()
	action, ok := credentialActions[e.GetType()]
	if !ok {
		action = feedAction("credential", e.GetType())
	}
	return auditlog.Normalize(auditlog.Event{
		ID:            auditlog.DerivedID(CredentialsFeed, e.GetSequence(), at),
		OccurredAt:    at,
		Actor:         actor(e.GetActor()),
		Action:        action,
		Target:        "credential:" + e.GetCredentialId(),
		AgentID:       e.GetAgentId(),
		Outcome:       auditlog.OutcomeSuccess,
		RequestID:     e.GetRequestId(),
		SourceAddress: e.GetSourceAddress(),
		Owner:         e.GetOwner(),
		Details:       map[string]string{"feedSequence": strconv.FormatInt(e.GetSequence(), 10)},
	})
}
