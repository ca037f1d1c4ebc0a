// Package tokencheck is the one definition of whether a verified access
// token may be used now: authz applies it to every API call and the token
// service's introspection to every question, so that a token is active at
// /oauth2/introspect exactly when the gateway would accept it.
package tokencheck

import (
	registryv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/registry/v1"
)

// Agent statuses (the registry's words).
const (
	Active         = "active"
	Suspended      = "suspended"
	Decommissioned = "decommissioned"
)

// Agent is what is known of a token's agent now.
type Agent struct {
	Status string
	Owner  string
	Scopes []string
	// RevokedThrough: tokens issued at or before this Unix second are dead
	// (the agent's last suspension or decommissioning), also after a
	// reactivation. Whole seconds, because iat is: a token issued in the
	// same second as a suspension is refused, erring on the safe side.
	RevokedThrough int64
}

// Token is what matters of a verified token.
type Token struct {
	IssuedAt int64
	// Owner is the token's owner claim ("" in tokens issued before owners
	// were tenants: they follow the agent's current owner).
	Owner string
	// JTIRevoked and CredentialRevoked: the token, or the credential it
	// was issued from, was revoked.
	JTIRevoked, CredentialRevoked bool
}

// Verdict is whether a token may be used now.
type Verdict int

const (
	// Usable: the token may be used (what it may do is the policy's).
	Usable Verdict = iota
	// UnknownAgent: its agent does not exist (401 INVALID_TOKEN).
	UnknownAgent
	// Revoked: the token, its credential or its agent was revoked, or the
	// agent moved to another owner (401 TOKEN_REVOKED).
	Revoked
	// AgentSuspended: its agent is suspended now (401 AGENT_SUSPENDED).
	AgentSuspended
)

// Judge decides a verified, unexpired token whose agent is a (nil: the
// agent does not exist). The reason explains a verdict other than Usable.
func Judge(t Token, a *Agent) (Verdict, string) {
	switch {
	case t.JTIRevoked:
		return Revoked, "the access token was revoked"
	case t.CredentialRevoked:
		return Revoked, "the credential this token was issued from was revoked"
	case a == nil:
		return UnknownAgent, "the access token's agent does not exist"
	case a.Status == Decommissioned:
		return Revoked, "the agent was decommissioned"
	case t.Owner != "" && t.Owner != a.Owner:
		return Revoked, "the agent moved to another owner after the token was issued"
	case a.Status != Active:
		return AgentSuspended, "the agent is " + a.Status
	case t.IssuedAt <= a.RevokedThrough:
		return Revoked, "the access token was issued before the agent was last suspended"
	}
	return Usable, ""
}

// EffectiveScopes are the token's scopes that its agent still holds: a
// scope removed from an agent stops working at once, not at token expiry.
func EffectiveScopes(token, agent []string) []string {
	out := make([]string, 0, len(token))
	for _, s := range token {
		for _, h := range agent {
			if s == h {
				out = append(out, s)
				break
			}
		}
	}
	return out
}

// RevokedThrough is the Unix second through which a registry agent's
// tokens are dead: its last suspension (kept after a reactivation) or its
// decommissioning.
func RevokedThrough(a *registryv1.Agent) int64 {
	var through int64
	if t := a.GetSuspendedAt(); t != nil {
		through = t.AsTime().Unix()
	}
	if t := a.GetDecommissionedAt(); t != nil {
		through = max(through, t.AsTime().Unix())
	}
	return through
}
