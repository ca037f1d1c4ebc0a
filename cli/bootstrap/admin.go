package bootstrap

import (
	"context"
	"fmt"
	"slices"

	"google.golang.org/protobuf/types/known/fieldmaskpb"

	registryv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/registry/v1"
)

// The first platform admin, as docs/deploy.md and the tenancy design fix it.
const (
	AdminName  = "platform-admin"
	AdminOwner = "platform"
	AdminType  = "admin"
	// RoleKey=RoleValue in its metadata is how a run finds the admin again
	// (names are not unique; the label is).
	RoleKey   = "agentidp.dev/role"
	RoleValue = "platform-admin"
	// ReplacesKey, on a replacement admin, names the decommissioned admin
	// it replaces.
	ReplacesKey = "agentidp.dev/replaces"
	// RequestID is the registry's idempotency key of the first admin: any
	// number of runs, concurrent or not, register one agent.
	RequestID = "agentidp-bootstrap-platform-admin"
	// replacementRequestPrefix + the replaced admin's id is the idempotency
	// key of its replacement (28 + 36 characters: the registry's limit is
	// 64).
	replacementRequestPrefix = "agentidp-bootstrap-replaces-"
)

// AdminScopes are the platform admin's scopes: every scope of the public
// API, and platform:admin, which crosses owners.
var AdminScopes = []string{
	"agents:read", "agents:write", "credentials:write", "tokens:introspect", "audit:read", "platform:admin",
}

const (
	statusActive         = "active"
	statusSuspended      = "suspended"
	statusDecommissioned = "decommissioned"
)

// adminSpec is the agent the bootstrap registers; replaces is the
// decommissioned admin it replaces, or "".
func adminSpec(replaces string) *registryv1.Agent {
	md := map[string]string{RoleKey: RoleValue}
	if replaces != "" {
		md[ReplacesKey] = replaces
	}
	return &registryv1.Agent{
		Name: AdminName, Owner: AdminOwner, AgentType: AdminType,
		Description: "The first platform admin, created by agentidp bootstrap: every scope and platform:admin. " +
			"Use it to register each owner's first agents, then keep its secret locked away.",
		Scopes:   AdminScopes,
		Metadata: md,
	}
}

// isAdmin reports whether an agent is a platform admin the bootstrap made.
func isAdmin(a *registryv1.Agent) bool {
	return a.GetOwner() == AdminOwner && a.GetAgentType() == AdminType && a.GetMetadata()[RoleKey] == RoleValue
}

// listAdmins returns every platform admin the bootstrap made, oldest first
// (agent ids are UUIDv7: the registry lists in creation order).
func (r *run) listAdmins(ctx context.Context) ([]*registryv1.Agent, error) {
	var out []*registryv1.Agent
	page := int32(100)
	req := &registryv1.ListAgentsRequest{PageSize: &page, Owner: AdminOwner, AgentType: AdminType}
	for {
		resp, err := r.cfg.Registry.ListAgents(ctx, req)
		if err != nil {
			return nil, fmt.Errorf("list the platform's admins: %w", err)
		}
		for _, a := range resp.GetAgents() {
			if isAdmin(a) {
				out = append(out, a)
			}
		}
		if resp.GetNextPageToken() == "" {
			return out, nil
		}
		req.PageToken = resp.GetNextPageToken()
	}
}

// ensureAdmin finds the platform admin or registers it (step 1 of Run).
func (r *run) ensureAdmin(ctx context.Context) (*registryv1.Agent, error) {
	admins, err := r.listAdmins(ctx)
	if err != nil {
		return nil, err
	}
	current, gone := pick(admins)
	if current == nil && gone == nil {
		a, err := r.cfg.Registry.CreateAgent(ctx, &registryv1.CreateAgentRequest{Agent: adminSpec(""), RequestId: RequestID})
		if err != nil {
			return nil, fmt.Errorf("register the platform admin: %w", err)
		}
		// The key may return an admin the listing did not show (its labels
		// were edited): then it is not new, and may be anything but active.
		switch a.GetStatus() {
		case statusActive:
			r.res.AgentCreated = isAdmin(a)
			r.logf("registered the platform admin %s (name %s, owner %s, request id %s)", a.GetAgentId(), AdminName, AdminOwner, RequestID)
			current = a
		case statusSuspended:
			current = a
		default:
			gone = a
		}
	}
	if current == nil {
		if !r.cfg.Force {
			return nil, refused("the platform admin %s is decommissioned; rerun with --force to register a new one", gone.GetAgentId())
		}
		a, err := r.cfg.Registry.CreateAgent(ctx, &registryv1.CreateAgentRequest{
			Agent: adminSpec(gone.GetAgentId()), RequestId: replacementRequestPrefix + gone.GetAgentId(),
		})
		if err != nil {
			return nil, fmt.Errorf("register a platform admin to replace %s: %w", gone.GetAgentId(), err)
		}
		if a.GetStatus() != statusActive {
			// The replacement was made by an earlier run and is itself
			// suspended or decommissioned since: only an operator knows why.
			return nil, refused("the platform admin %s, which replaced %s, is %s; reactivate it or register an admin yourself", a.GetAgentId(), gone.GetAgentId(), a.GetStatus())
		}
		r.res.AgentCreated = true
		r.res.Replaced = gone.GetAgentId()
		r.logf("registered the platform admin %s to replace the decommissioned %s (--force)", a.GetAgentId(), gone.GetAgentId())
		current = a
	}
	if current.GetStatus() == statusSuspended {
		if !r.cfg.Force {
			return nil, refused("the platform admin %s is suspended; reactivate it, or rerun with --force to reactivate it (add --rotate if its secret may have leaked)", current.GetAgentId())
		}
		a, err := r.cfg.Registry.UpdateAgent(ctx, &registryv1.UpdateAgentRequest{
			Agent:      &registryv1.Agent{AgentId: current.GetAgentId(), Status: statusActive},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"status"}},
		})
		if err != nil {
			return nil, fmt.Errorf("reactivate the platform admin %s: %w", current.GetAgentId(), err)
		}
		r.res.Reactivated = true
		r.logf("reactivated the suspended platform admin %s (--force)", a.GetAgentId())
		current = a
	}
	if !r.res.AgentCreated && !r.res.Reactivated {
		r.logf("found the platform admin %s (active)", current.GetAgentId())
	}
	if missing := missingScopes(current); len(missing) > 0 {
		// Someone changed it on purpose; the bootstrap does not undo that.
		r.logf("warning: the platform admin %s lacks the scopes %v", current.GetAgentId(), missing)
	}
	return current, nil
}

// pick chooses the admin to use: the oldest active one, else the oldest
// suspended one; gone is the newest decommissioned admin, which a
// replacement replaces.
func pick(admins []*registryv1.Agent) (current, gone *registryv1.Agent) {
	for _, a := range admins {
		switch a.GetStatus() {
		case statusActive:
			if current == nil || current.GetStatus() != statusActive {
				current = a
			}
		case statusSuspended:
			if current == nil {
				current = a
			}
		default:
			gone = a
		}
	}
	return current, gone
}

func missingScopes(a *registryv1.Agent) []string {
	var out []string
	for _, s := range AdminScopes {
		if !slices.Contains(a.GetScopes(), s) {
			out = append(out, s)
		}
	}
	return out
}
