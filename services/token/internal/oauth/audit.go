package oauth

import (
	"context"

	"github.com/google/uuid"

	"github.com/sentryagent/agentidp/libs/accesstoken"
	"github.com/sentryagent/agentidp/libs/apierror"
	"github.com/sentryagent/agentidp/libs/auditlog"
)

// ActorAnonymous is the actor of a token request whose client did not
// authenticate.
const ActorAnonymous = "anonymous"

// auditToken records issued tokens (token.issued) and refusals that say
// something about a client (token.denied: failed authentication, a
// suspended agent, a scope beyond the agent's). Malformed requests, rate
// limiting and outages are left to metrics: they would flood the log
// without telling who did what.
func (s *Service) auditToken(ctx context.Context, req TokenRequest, client *Client, claims accesstoken.Claims, err error) {
	if s.cfg.Audit == nil {
		return
	}
	if err == nil {
		s.emit(ctx, auditlog.Event{
			Actor: client.AgentID, Action: auditlog.ActionTokenIssued, Outcome: auditlog.OutcomeSuccess,
			Target: "token:" + claims.ID, AgentID: auditAgentID(client.AgentID), Owner: client.Owner,
			// Two details only: each costs the emitter's validation time on
			// the hot path (client_id is the agent id; expiry is iat + TTL).
			Details: map[string]string{"credential_id": client.CredentialID, "scope": claims.Scope},
		})
		return
	}
	e := apierror.As(err)
	if e == nil {
		return
	}
	switch e.Reason {
	case ErrInvalidClient.Reason, ErrUnauthorizedClient.Reason, ErrInvalidScope.Reason:
	default:
		return
	}
	ev := auditlog.Event{
		Actor: ActorAnonymous, Action: auditlog.ActionTokenDenied, Outcome: auditlog.OutcomeDenied,
		// The presented client id, authenticated or not: attempts against
		// an agent are found by its id.
		Target:  "client:" + req.Credentials.ClientID,
		AgentID: auditAgentID(req.Credentials.ClientID),
		Details: map[string]string{"error": ErrorCode(e), "requested_scope": req.Scope},
	}
	if client != nil {
		ev.Actor, ev.Owner = client.AgentID, client.Owner
		ev.Details["credential_id"] = client.CredentialID
	}
	s.emit(ctx, ev)
}

// auditAgentID keeps an agent id the audit log accepts (a UUID), else none.
func auditAgentID(id string) string {
	if u, err := uuid.Parse(id); err == nil && len(id) == 36 && u != uuid.Nil {
		return id
	}
	return ""
}

func (s *Service) emit(ctx context.Context, ev auditlog.Event) {
	if s.cfg.Audit == nil {
		return
	}
	ev = auditlog.WithRequest(ctx, ev)
	if err := s.cfg.Audit.Emit(ctx, ev); err != nil && s.cfg.Logger != nil {
		s.cfg.Logger.Warn("audit event not recorded", "action", ev.Action, "error", err)
	}
}
