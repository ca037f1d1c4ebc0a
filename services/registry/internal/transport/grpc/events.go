package grpc

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sentryagent/agentidp/libs/apierror"
	"github.com/sentryagent/agentidp/libs/feed"
	registryv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/registry/v1"
	"github.com/sentryagent/agentidp/services/registry/internal/agent"
)

const (
	eventBatch = 500
	// pollEvery bounds the delay if a notification is ever lost.
	pollEvery = time.Second
)

type eventsServer struct {
	registryv1.UnimplementedAgentEventsServiceServer
	log agent.EventLog
}

// NewEventsServer serves the registry's change feed.
func NewEventsServer(log agent.EventLog) registryv1.AgentEventsServiceServer {
	return &eventsServer{log: log}
}

func (s *eventsServer) WatchAgentEvents(req *registryv1.WatchAgentEventsRequest, stream registryv1.AgentEventsService_WatchAgentEventsServer) error {
	ctx := stream.Context()
	after := req.GetAfterSequence()
	if after < 0 {
		return apierror.Invalid("FIELD_INVALID", "afterSequence", "afterSequence must not be negative")
	}
	// Tell the consumer where the feed ends now, so that it knows when it
	// has caught up (libs/feed.HeadHeader).
	head, err := s.log.LastSequence(ctx)
	if err != nil {
		return err
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
			if err := stream.Send(&registryv1.WatchAgentEventsResponse{Event: &registryv1.AgentEvent{
				Sequence: e.Sequence, Type: string(e.Type), OccurredAt: timestamppb.New(e.OccurredAt),
				Agent: agentToProto(e.Agent), Actor: e.Request.Actor, RequestId: e.Request.RequestID,
				SourceAddress: e.Request.SourceAddress,
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
