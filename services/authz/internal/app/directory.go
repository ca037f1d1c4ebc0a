package app

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	registryv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/registry/v1"
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
	// The registry says what the agent is, not when it was last suspended:
	// a suspended or decommissioned agent's last change bounds it from above,
	// which errs on the safe side.
	var through int64
	switch a.GetStatus() {
	case state.Suspended:
		through = a.GetUpdatedAt().AsTime().Unix()
	case state.Decommissioned:
		through = a.GetDecommissionedAt().AsTime().Unix()
	}
	return state.NewAgent(a.GetAgentId(), a.GetStatus(), a.GetScopes(), through, 0), nil
}
