package feed

import (
	"context"

	"google.golang.org/grpc"

	credentialsv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/credentials/v1"
	registryv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/registry/v1"
)

// AgentEvents opens the registry's change feed
// (AgentEventsService.WatchAgentEvents).
func AgentEvents(client registryv1.AgentEventsServiceClient) Open[*registryv1.AgentEvent] {
	return func(ctx context.Context, after int64) (Stream[*registryv1.AgentEvent], error) {
		s, err := client.WatchAgentEvents(ctx, &registryv1.WatchAgentEventsRequest{AfterSequence: after})
		if err != nil {
			return nil, err
		}
		return grpcStream[registryv1.WatchAgentEventsResponse, *registryv1.AgentEvent]{s, (*registryv1.WatchAgentEventsResponse).GetEvent}, nil
	}
}

// Types of the credentials feed's events.
const (
	CredentialCreated    = "created"
	CredentialRotated    = "rotated"
	CredentialRevoked    = "revoked"
	CredentialGraceEnded = "grace_ended"
)

// CredentialEvents opens the credentials service's change feed
// (CredentialEventsService.WatchCredentialEvents).
func CredentialEvents(client credentialsv1.CredentialEventsServiceClient) Open[*credentialsv1.CredentialEvent] {
	return func(ctx context.Context, after int64) (Stream[*credentialsv1.CredentialEvent], error) {
		s, err := client.WatchCredentialEvents(ctx, &credentialsv1.WatchCredentialEventsRequest{AfterSequence: after})
		if err != nil {
			return nil, err
		}
		return grpcStream[credentialsv1.WatchCredentialEventsResponse, *credentialsv1.CredentialEvent]{s, (*credentialsv1.WatchCredentialEventsResponse).GetEvent}, nil
	}
}

// grpcStream adapts a generated server-streaming client whose responses
// wrap one event.
type grpcStream[R any, E Event] struct {
	grpc.ServerStreamingClient[R]
	unwrap func(*R) E
}

func (s grpcStream[R, E]) Recv() (E, error) {
	r, err := s.ServerStreamingClient.Recv()
	if err != nil {
		var zero E
		return zero, err
	}
	return s.unwrap(r), nil
}
