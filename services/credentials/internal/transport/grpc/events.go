package grpc

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sentryagent/agentidp/libs/feed"
	credentialsv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/credentials/v1"
	"github.com/sentryagent/agentidp/services/credentials/internal/credential"
)

const (
	eventBatch = 500
	// pollEvery bounds the delay if a notification is ever lost.
	pollEvery = time.Second
)

// EventLog reads the change feed (internal/store/postgres).
// Implementations must pass credential/storetest's suite.
type EventLog interface {
	EventsAfter(ctx context.Context, after int64, limit int) ([]credential.Event, error)
	LastSequence(ctx context.Context) (int64, error)
	// WaitForEvents returns when new events may have been committed, when
	// maxWait has passed, or when ctx ends.
	WaitForEvents(ctx context.Context, maxWait time.Duration)
}

type eventsServer struct {
	credentialsv1.UnimplementedCredentialEventsServiceServer
	log EventLog
}

// NewEventsServer serves the change feed (CredentialEventsService).
func NewEventsServer(log EventLog) credentialsv1.CredentialEventsServiceServer {
	return &eventsServer{log: log}
}

func (s *eventsServer) WatchCredentialEvents(req *credentialsv1.WatchCredentialEventsRequest, stream credentialsv1.CredentialEventsService_WatchCredentialEventsServer) error {
	ctx := stream.Context()
	after := req.GetAfterSequence()
	// Tell the consumer where the feed ends now, so that it knows when it
	// has caught up (libs/feed.HeadHeader).
	head, err := s.log.LastSequence(ctx)
	if err != nil {
		return err
	}
	if after < 0 {
		// From the end: only what commits from now on (caches).
		after = head
	}
	if err := feed.SendHead(stream, head); err != nil {
		return err
	}
	for ctx.Err() == nil {
		events, err := s.log.EventsAfter(ctx, after, eventBatch)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		for _, e := range events {
			if err := stream.Send(&credentialsv1.WatchCredentialEventsResponse{Event: &credentialsv1.CredentialEvent{
				Sequence: e.Sequence, Type: string(e.Type), OccurredAt: timestamppb.New(e.OccurredAt),
				CredentialId: e.CredentialID.String(), AgentId: e.AgentID.String(),
				Actor: e.Actor, RequestId: e.RequestID, SourceAddress: e.SourceAddress, Owner: e.Owner,
			}}); err != nil {
				return err
			}
			after = e.Sequence
		}
		if len(events) < eventBatch {
			s.log.WaitForEvents(ctx, pollEvery)
		}
	}
	return nil
}
