package grpc_test

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	credentialsv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/credentials/v1"
	"github.com/sentryagent/agentidp/libs/requestinfo"
)

// caller is a call through the gateway as authz asserts it.
func caller(owner string, scopes ...string) context.Context {
	return metadata.NewOutgoingContext(context.Background(), metadata.Pairs(
		requestinfo.HeaderGateway, "true", requestinfo.HeaderAgentID, "0190f8a0-0000-7000-8000-0000000000ee",
		requestinfo.HeaderAgentOwner, requestinfo.EncodeOwner(owner), requestinfo.HeaderAgentScopes, strings.Join(scopes, " ")))
}

// TestCredentialsStayWithinReach: beside the policy, the service itself
// hides another owner's agents (404) and refuses to create, rotate or
// revoke credentials of an agent holding scopes the caller lacks — the
// takeover an agent holding only credentials:write attempted on the admin.
func TestCredentialsStayWithinReach(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	powerful := e.newAgent("agents:read", "agents:write", "credentials:write") // owner team-test
	cred := e.create(powerful, 0).GetCredential().GetCredentialId()

	stranger := caller("team-other", "agents:read", "agents:write", "credentials:write")
	writer := caller("team-test", "credentials:write")
	peerOwner := caller("team-test", "agents:read", "agents:write", "credentials:write")
	platform := caller("platform", "credentials:write", "platform:admin")

	// Another owner: the agent does not exist, for reads and writes.
	_, err := e.creds.CreateCredential(stranger, &credentialsv1.CreateCredentialRequest{AgentId: powerful})
	wantError(t, err, codes.NotFound, "AGENT_NOT_FOUND", "")
	_, err = e.creds.ListCredentials(stranger, &credentialsv1.ListCredentialsRequest{AgentId: powerful})
	wantError(t, err, codes.NotFound, "AGENT_NOT_FOUND", "")
	_, err = e.creds.RotateCredential(stranger, &credentialsv1.RotateCredentialRequest{AgentId: powerful, CredentialId: cred})
	wantError(t, err, codes.NotFound, "AGENT_NOT_FOUND", "")
	_, err = e.creds.RevokeCredential(stranger, &credentialsv1.RevokeCredentialRequest{AgentId: powerful, CredentialId: cred})
	wantError(t, err, codes.NotFound, "AGENT_NOT_FOUND", "")

	// Same owner, fewer scopes: it may list, never mint or take away.
	if _, err := e.creds.ListCredentials(writer, &credentialsv1.ListCredentialsRequest{AgentId: powerful}); err != nil {
		t.Fatal(err)
	}
	_, err = e.creds.CreateCredential(writer, &credentialsv1.CreateCredentialRequest{AgentId: powerful})
	wantError(t, err, codes.PermissionDenied, "SCOPE_ESCALATION", "")
	_, err = e.creds.RotateCredential(writer, &credentialsv1.RotateCredentialRequest{AgentId: powerful, CredentialId: cred})
	wantError(t, err, codes.PermissionDenied, "SCOPE_ESCALATION", "")
	_, err = e.creds.RevokeCredential(writer, &credentialsv1.RevokeCredentialRequest{AgentId: powerful, CredentialId: cred})
	wantError(t, err, codes.PermissionDenied, "SCOPE_ESCALATION", "")

	// As powerful as the agent, in its owner: yes. The platform: yes.
	issued, err := e.creds.CreateCredential(peerOwner, &credentialsv1.CreateCredentialRequest{AgentId: powerful})
	if err != nil {
		t.Fatal(err)
	}
	if v := e.wantValid(powerful, issued.GetClientSecret()); v.GetOwner() != "team-test" {
		t.Fatalf("verification's owner %q", v.GetOwner())
	}
	if _, err := e.creds.RotateCredential(platform, &credentialsv1.RotateCredentialRequest{AgentId: powerful, CredentialId: cred}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.creds.RevokeCredential(platform, &credentialsv1.RevokeCredentialRequest{AgentId: powerful, CredentialId: cred}); err != nil {
		t.Fatal(err)
	}
}
