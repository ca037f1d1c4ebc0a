// Package agents tells an agent's current status for introspection: from
// the token service's projection of the registry feed, or from the
// registry itself for an agent the projection does not hold yet.
package agents

import (
	"context"

	"github.com/sentryagent/agentidp/libs/apierror"
	registryv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/registry/v1"
	"github.com/sentryagent/agentidp/services/token/internal/authcache"
)

// Projection is the Redis projection of agents.
type Projection interface {
	Agent(ctx context.Context, agentID string) (authcache.Agent, bool, error)
}

// Directory implements oauth.Agents.
type Directory struct {
	Projection Projection
	// Registry is dialled with libs/grpcclient (deadline, breaker).
	Registry registryv1.RegistryServiceClient
}

// StatusUnknown is the status of an agent the registry does not know.
const StatusUnknown = "unknown"

// Status returns the agent's lifecycle status.
func (d Directory) Status(ctx context.Context, agentID string) (string, error) {
	a, ok, err := d.Projection.Agent(ctx, agentID)
	if err != nil {
		return "", err
	}
	if ok {
		return a.Status, nil
	}
	ag, err := d.Registry.GetAgent(ctx, &registryv1.GetAgentRequest{AgentId: agentID})
	if err != nil {
		switch apierror.KindOf(apierror.FromStatus(err)) {
		case apierror.NotFound, apierror.InvalidArgument:
			return StatusUnknown, nil
		}
		return "", err
	}
	return ag.GetStatus(), nil
}
