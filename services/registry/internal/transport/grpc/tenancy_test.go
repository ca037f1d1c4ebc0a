package grpc_test

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	registryv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/registry/v1"
)

// as is a call through the gateway by an agent of owner holding scopes, as
// authz asserts it (x-agent-owner is percent-encoded).
func as(ctx context.Context, agentID, owner string, scopes ...string) context.Context {
	return metadata.NewOutgoingContext(ctx, metadata.Pairs(
		"x-agentidp-gateway", "true", "x-agent-id", agentID,
		"x-agent-owner", strings.ReplaceAll(owner, " ", "+"), "x-agent-scopes", strings.Join(scopes, " ")))
}

// TestOwnerIsolationInDataAccess: the registry confines every read and
// write to the caller's owner by itself, whatever the policy decided: an
// agent of another owner does not exist for the caller.
func TestOwnerIsolationInDataAccess(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	const callerA, callerB = "0190f8a0-0000-7000-8000-0000000000aa", "0190f8a0-0000-7000-8000-0000000000bb"
	a := as(ctx, callerA, "team a", "agents:read", "agents:write")
	b := as(ctx, callerB, "team-b", "agents:read", "agents:write")
	platform := as(ctx, callerB, "platform", "agents:read", "agents:write", "platform:admin")

	// Registering without an owner gives the caller's; naming another owner
	// needs platform:admin.
	mine, err := c.CreateAgent(a, &registryv1.CreateAgentRequest{Agent: &registryv1.Agent{Name: "a1", Scopes: []string{"agents:read"}}})
	if err != nil {
		t.Fatal(err)
	}
	if mine.GetOwner() != "team a" {
		t.Fatalf("owner %q, want the caller's", mine.GetOwner())
	}
	_, err = c.CreateAgent(a, &registryv1.CreateAgentRequest{Agent: &registryv1.Agent{Name: "a2", Owner: "team-b"}})
	wantError(t, err, codes.PermissionDenied, "OWNER_NOT_ALLOWED", "agent.owner")
	theirs, err := c.CreateAgent(platform, &registryv1.CreateAgentRequest{Agent: &registryv1.Agent{Name: "b1", Owner: "team-b", Scopes: []string{"agents:write"}}})
	if err != nil {
		t.Fatal(err)
	}

	// B sees nothing of A's: get, list (with or without A's owner as a
	// filter), update, decommission.
	_, err = c.GetAgent(b, &registryv1.GetAgentRequest{AgentId: mine.GetAgentId()})
	wantError(t, err, codes.NotFound, "AGENT_NOT_FOUND", "")
	for _, owner := range []string{"", "team a"} {
		page, err := c.ListAgents(b, &registryv1.ListAgentsRequest{Owner: owner})
		if err != nil {
			t.Fatal(err)
		}
		for _, ag := range page.GetAgents() {
			if ag.GetOwner() != "team-b" {
				t.Fatalf("B listed %s of %q", ag.GetAgentId(), ag.GetOwner())
			}
		}
	}
	_, err = c.UpdateAgent(b, &registryv1.UpdateAgentRequest{
		Agent: &registryv1.Agent{AgentId: mine.GetAgentId(), Status: "suspended"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"status"}}})
	wantError(t, err, codes.NotFound, "AGENT_NOT_FOUND", "")
	_, err = c.DeleteAgent(b, &registryv1.DeleteAgentRequest{AgentId: mine.GetAgentId()})
	wantError(t, err, codes.NotFound, "AGENT_NOT_FOUND", "")
	if got, err := c.GetAgent(a, &registryv1.GetAgentRequest{AgentId: mine.GetAgentId()}); err != nil || got.GetStatus() != "active" {
		t.Fatalf("A's agent after B's attempts: %v %v", got, err)
	}

	// A's list holds its own agent only; the platform sees both owners.
	page, err := c.ListAgents(a, &registryv1.ListAgentsRequest{})
	if err != nil || len(page.GetAgents()) != 1 || page.GetAgents()[0].GetAgentId() != mine.GetAgentId() {
		t.Fatalf("A's list: %v %v", page, err)
	}
	page, err = c.ListAgents(platform, &registryv1.ListAgentsRequest{})
	if err != nil || len(page.GetAgents()) != 2 {
		t.Fatalf("platform list: %v %v", page, err)
	}

	// Moving an agent to another owner needs platform:admin.
	move := &registryv1.UpdateAgentRequest{Agent: &registryv1.Agent{AgentId: mine.GetAgentId(), Owner: "team-b"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"owner"}}}
	_, err = c.UpdateAgent(a, move)
	wantError(t, err, codes.PermissionDenied, "OWNER_NOT_ALLOWED", "agent.owner")
	if moved, err := c.UpdateAgent(platform, move); err != nil || moved.GetOwner() != "team-b" {
		t.Fatalf("platform move: %v %v", moved, err)
	}
	if _, err := c.GetAgent(b, &registryv1.GetAgentRequest{AgentId: mine.GetAgentId()}); err != nil {
		t.Fatalf("B after the move: %v", err)
	}
	_, err = c.GetAgent(a, &registryv1.GetAgentRequest{AgentId: mine.GetAgentId()})
	wantError(t, err, codes.NotFound, "AGENT_NOT_FOUND", "")

	// A request id is the owner's own: B reusing A's key creates B's agent.
	first, err := c.CreateAgent(a, &registryv1.CreateAgentRequest{RequestId: "key-1", Agent: &registryv1.Agent{Name: "k"}})
	if err != nil {
		t.Fatal(err)
	}
	other, err := c.CreateAgent(b, &registryv1.CreateAgentRequest{RequestId: "key-1", Agent: &registryv1.Agent{Name: "k"}})
	if err != nil || other.GetAgentId() == first.GetAgentId() || other.GetOwner() != "team-b" {
		t.Fatalf("B's replay of A's key: %v %v", other, err)
	}
	_ = theirs

	// A client call that reached the service without an identity (a route
	// that lost its ext_authz) sees nothing.
	anon := metadata.NewOutgoingContext(ctx, metadata.Pairs("x-agentidp-gateway", "true"))
	page, err = c.ListAgents(anon, &registryv1.ListAgentsRequest{})
	if err != nil || len(page.GetAgents()) != 0 {
		t.Fatalf("anonymous gateway list: %v %v", page, err)
	}
}

// TestNoEscalationInDataAccess: a caller registers or changes only agents
// whose scopes it holds itself, and grants none it lacks.
func TestNoEscalationInDataAccess(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	platform := as(ctx, "0190f8a0-0000-7000-8000-0000000000cc", "team-a", "agents:read", "agents:write", "credentials:write", "platform:admin")
	admin, err := c.CreateAgent(platform, &registryv1.CreateAgentRequest{Agent: &registryv1.Agent{
		Name: "admin", Scopes: []string{"agents:read", "agents:write", "credentials:write"}}})
	if err != nil {
		t.Fatal(err)
	}
	writer := as(ctx, "0190f8a0-0000-7000-8000-0000000000dd", "team-a", "agents:read", "agents:write")

	_, err = c.CreateAgent(writer, &registryv1.CreateAgentRequest{Agent: &registryv1.Agent{Name: "x", Scopes: []string{"credentials:write"}}})
	wantError(t, err, codes.PermissionDenied, "SCOPE_ESCALATION", "agent.scopes")
	for _, u := range []*registryv1.UpdateAgentRequest{
		{Agent: &registryv1.Agent{AgentId: admin.GetAgentId(), Status: "suspended"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"status"}}},
		{Agent: &registryv1.Agent{AgentId: admin.GetAgentId(), Scopes: []string{"agents:read"}}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"scopes"}}},
		{Agent: &registryv1.Agent{AgentId: admin.GetAgentId(), Description: "mine now"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"description"}}},
	} {
		_, err = c.UpdateAgent(writer, u)
		wantError(t, err, codes.PermissionDenied, "SCOPE_ESCALATION", "")
	}
	_, err = c.DeleteAgent(writer, &registryv1.DeleteAgentRequest{AgentId: admin.GetAgentId()})
	wantError(t, err, codes.PermissionDenied, "SCOPE_ESCALATION", "")

	// Within its own power it may.
	peer, err := c.CreateAgent(writer, &registryv1.CreateAgentRequest{Agent: &registryv1.Agent{Name: "peer", Scopes: []string{"agents:read"}}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.UpdateAgent(writer, &registryv1.UpdateAgentRequest{Agent: &registryv1.Agent{AgentId: peer.GetAgentId(), Scopes: []string{"agents:read", "credentials:write"}},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"scopes"}}})
	wantError(t, err, codes.PermissionDenied, "SCOPE_ESCALATION", "agent.scopes")
	suspended, err := c.UpdateAgent(writer, &registryv1.UpdateAgentRequest{Agent: &registryv1.Agent{AgentId: peer.GetAgentId(), Status: "suspended"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"status"}}})
	if err != nil || suspended.GetSuspendedAt() == nil {
		t.Fatalf("suspending a peer: %v %v", suspended, err)
	}
	reactivated, err := c.UpdateAgent(writer, &registryv1.UpdateAgentRequest{Agent: &registryv1.Agent{AgentId: peer.GetAgentId(), Status: "active"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"status"}}})
	if err != nil || !reactivated.GetSuspendedAt().AsTime().Equal(suspended.GetSuspendedAt().AsTime()) {
		t.Fatalf("suspendedAt after a reactivation: %v %v", reactivated, err)
	}
	if _, err := c.DeleteAgent(writer, &registryv1.DeleteAgentRequest{AgentId: peer.GetAgentId()}); err != nil {
		t.Fatal(err)
	}
}
