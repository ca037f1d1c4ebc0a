package app

import (
	"context"
	"errors"

	"github.com/sentryagent/agentidp/libs/registryclient"
	"github.com/sentryagent/agentidp/libs/tokencheck"
	"github.com/sentryagent/agentidp/services/authz/internal/state"
)

// registryDirectory reads agents from the registry when the projection
// cannot answer (state.Directory).
type registryDirectory struct {
	client registryclient.Client
}

func (d registryDirectory) GetAgent(ctx context.Context, id string) (*state.Agent, error) {
	a, err := d.client.GetAgent(ctx, id)
	switch {
	case errors.Is(err, registryclient.ErrNotFound):
		return nil, state.ErrNoAgent
	case err != nil:
		return nil, err
	}
	return state.NewAgent(a.GetAgentId(), a.GetStatus(), a.GetOwner(), a.GetScopes(), tokencheck.RevokedThrough(a), 0), nil
}
