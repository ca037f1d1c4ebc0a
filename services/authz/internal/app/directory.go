package app

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	registryv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/registry/v1"
	"github.com/sentryagent/agentidp/libs/tokencheck"
	"github.com/sentryagent/agentidp/services/authz/internal/state"
)

// registryDirectory reads agents from the registry when the projection
// cannot answer (state.Directory).
type registryDirectory struct {
	client registryv1.RegistryServiceClient
}

func (d registryDirectory) GetAgent(ctx context.Context, id string) (*state.Agent, error) {
	a, err := d.client.GetAgent(ctx, &registryv1.GetAgentRequest{AgentId: id})
	switch status.Code(err) {
	case codes.OK:
	case codes.NotFound, codes.InvalidArgument:
		return nil, state.ErrNoAgent
	default:
		return nil, err
	}
	return state.NewAgent(a.GetAgentId(), a.GetStatus(), a.GetOwner(), a.GetScopes(), tokencheck.RevokedThrough(a), 0), nil
}
