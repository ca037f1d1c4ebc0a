// Package agents is the credentials service's knowledge of agents: the
// registry as the authority (over gRPC, behind libs/grpcclient's circuit
// breaker) and a local projection fed by the registry's change feed, which
// also revokes every credential of an agent that is decommissioned.
package agents

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	registryv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/registry/v1"
	"github.com/sentryagent/agentidp/libs/registryclient"
	"github.com/sentryagent/agentidp/services/credentials/internal/credential"
)

// Registry answers for agents from the registry service.
type Registry struct {
	client registryclient.Client
}

var _ credential.Directory = Registry{}

// NewRegistry wraps a client from libs/grpcclient.Dial.
func NewRegistry(client registryv1.RegistryServiceClient) Registry {
	return Registry{client: registryclient.New(client)}
}

// GetAgent returns the agent, ErrAgentNotFound, or ErrRegistryUnavailable.
func (r Registry) GetAgent(ctx context.Context, id uuid.UUID) (credential.Agent, error) {
	a, err := r.client.GetAgent(ctx, id.String())
	switch {
	case errors.Is(err, registryclient.ErrNotFound):
		return credential.Agent{}, credential.ErrAgentNotFound.WithMessage("agent %s not found", id)
	case errors.Is(err, registryclient.ErrUnavailable):
		return credential.Agent{}, fmt.Errorf("%w: %w", credential.ErrRegistryUnavailable, err)
	case err != nil:
		return credential.Agent{}, err
	}
	return fromProto(a), nil
}

func fromProto(a *registryv1.Agent) credential.Agent {
	id, _ := uuid.Parse(a.GetAgentId())
	return credential.Agent{ID: id, Status: a.GetStatus(), Scopes: a.GetScopes(), Owner: a.GetOwner()}
}

// ProjectionStore applies feed events (internal/store/postgres).
// Implementations must pass credential/storetest's suite.
type ProjectionStore interface {
	ApplyAgent(ctx context.Context, a credential.Agent, seq int64, at time.Time) (revoked []uuid.UUID, err error)
}

// Handler applies each event of the registry's feed to the projection. It
// is idempotent, as libs/feed requires: a replayed event changes no
// newer state and revokes nothing twice. revoked is told which credentials
// a decommission revoked (to drop cached digests).
func Handler(store ProjectionStore, revoked func([]uuid.UUID), logger *slog.Logger) func(context.Context, *registryv1.AgentEvent) error {
	return func(ctx context.Context, e *registryv1.AgentEvent) error {
		a := fromProto(e.GetAgent())
		if a.ID == uuid.Nil {
			logger.Warn("agent event without a valid agent id; skipped", "sequence", e.GetSequence())
			return nil
		}
		ids, err := store.ApplyAgent(ctx, a, e.GetSequence(), time.Now().UTC().Truncate(time.Microsecond))
		if err != nil {
			return err
		}
		if len(ids) > 0 {
			logger.Info("agent decommissioned: credentials revoked", "agent_id", a.ID, "revoked", len(ids))
			revoked(ids)
		}
		return nil
	}
}

// ConsumerName is this service's cursor in event_cursors.
const ConsumerName = "credentials"
