// Package agents tells what is known of an agent now, for introspection:
// from the token service's projection of the registry feed while the
// change feeds are live, or from the registry itself — the same sources,
// in the same order, as authz's kill switch.
package agents

import (
	"context"
	"errors"

	"github.com/sentryagent/agentidp/libs/registryclient"
	"github.com/sentryagent/agentidp/libs/tokencheck"
	"github.com/sentryagent/agentidp/services/token/internal/authcache"
)

// Projection is the Redis projection of agents.
type Projection interface {
	Agent(ctx context.Context, agentID string) (authcache.Agent, bool, error)
}

// Feeds tells whether the change feeds are live on this replica (only then
// is the projection current).
type Feeds interface {
	Live() bool
}

// Directory implements oauth.Agents.
type Directory struct {
	Projection Projection
	Feeds      Feeds
	Registry   registryclient.Client
}

// Agent returns the agent, or nil when the registry does not know it.
func (d Directory) Agent(ctx context.Context, agentID string) (*tokencheck.Agent, error) {
	if d.Feeds.Live() {
		a, ok, err := d.Projection.Agent(ctx, agentID)
		if err != nil {
			return nil, err
		}
		if ok {
			return &tokencheck.Agent{Status: a.Status, Owner: a.Owner, Scopes: a.Scopes, RevokedThrough: a.RevokedThrough}, nil
		}
	}
	ag, err := d.Registry.GetAgent(ctx, agentID)
	switch {
	case errors.Is(err, registryclient.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, err
	}
	return &tokencheck.Agent{Status: ag.GetStatus(), Owner: ag.GetOwner(), Scopes: ag.GetScopes(),
		RevokedThrough: tokencheck.RevokedThrough(ag)}, nil
}
