package grpc

import (
	"google.golang.org/protobuf/types/known/timestamppb"

	registryv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/registry/v1"
	"github.com/sentryagent/agentidp/services/registry/internal/agent"
)

func fieldsFromProto(a *registryv1.Agent) agent.Fields {
	return agent.Fields{
		Name:          a.GetName(),
		Description:   a.GetDescription(),
		AgentType:     a.GetAgentType(),
		Version:       a.GetVersion(),
		Owner:         a.GetOwner(),
		Capabilities:  a.GetCapabilities(),
		Scopes:        a.GetScopes(),
		DeploymentEnv: a.GetDeploymentEnv(),
		Metadata:      a.GetMetadata(),
		Status:        agent.Status(a.GetStatus()),
	}
}

func agentToProto(a agent.Agent) *registryv1.Agent {
	out := &registryv1.Agent{
		AgentId:       a.ID.String(),
		Name:          a.Name,
		Description:   a.Description,
		AgentType:     a.AgentType,
		Version:       a.Version,
		Owner:         a.Owner,
		Capabilities:  a.Capabilities,
		Scopes:        a.Scopes,
		DeploymentEnv: a.DeploymentEnv,
		Metadata:      a.Metadata,
		Status:        string(a.Status),
		CreatedAt:     timestamppb.New(a.CreatedAt),
		UpdatedAt:     timestamppb.New(a.UpdatedAt),
		Etag:          a.ETag(),
	}
	if a.DecommissionedAt != nil {
		out.DecommissionedAt = timestamppb.New(*a.DecommissionedAt)
	}
	if a.SuspendedAt != nil {
		out.SuspendedAt = timestamppb.New(*a.SuspendedAt)
	}
	return out
}
