// Package registryclient reads an agent from the registry (GetAgent) for
// the services that ask it when their own projection cannot answer, with
// the one mapping of its errors: ErrNotFound or ErrUnavailable.
package registryclient

import (
	"context"
	"errors"
	"fmt"

	"github.com/sentryagent/agentidp/libs/apierror"
	registryv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/registry/v1"
)

var (
	// ErrNotFound: the registry knows no such agent (an id that cannot
	// name an agent included).
	ErrNotFound = errors.New("registry: no such agent")
	// ErrUnavailable: the registry cannot answer now (down, slow, or its
	// circuit breaker open); another try later may succeed.
	ErrUnavailable = errors.New("registry: unavailable")
)

// Client reads agents from the registry.
type Client struct {
	rpc registryv1.RegistryServiceClient
}

// New wraps a client dialled with libs/grpcclient (deadline, breaker).
func New(rpc registryv1.RegistryServiceClient) Client { return Client{rpc: rpc} }

// GetAgent returns the agent. Its errors are ErrNotFound, ErrUnavailable
// (wrapping the status), the context's error when the caller gave up, or
// any other status the registry answered, wrapped.
func (c Client) GetAgent(ctx context.Context, id string) (*registryv1.Agent, error) {
	a, err := c.rpc.GetAgent(ctx, &registryv1.GetAgentRequest{AgentId: id})
	if err == nil {
		return a, nil
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	switch apierror.KindOf(apierror.FromStatus(err)) {
	case apierror.NotFound, apierror.InvalidArgument:
		return nil, fmt.Errorf("%w: agent %s", ErrNotFound, id)
	case apierror.Unavailable, apierror.DeadlineExceeded:
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil, fmt.Errorf("registry GetAgent: %w", err)
}
