package grpc_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"

	"github.com/sentryagent/agentidp/libs/apierror"
	credentialsv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/credentials/v1"
	"github.com/sentryagent/agentidp/libs/testkit"
)

func TestBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{vault: testkit.NewVault(t)})
	ctx := context.Background()
	agentID := e.newAgent()
	cred := e.create(agentID, 0).GetCredential().GetCredentialId()
	otherAgent := e.newAgent()
	otherCred := e.create(otherAgent, 0).GetCredential().GetCredentialId()
	suspended := e.newAgent()
	e.setAgentStatus(suspended, "suspended")
	gone := e.newAgent()
	e.setAgentStatus(gone, "decommissioned")
	unknown := uuid.Must(uuid.NewV7()).String()
	size := func(n int32) *int32 { return &n }
	otherToken := func() string {
		for range 2 {
			e.create(otherAgent, 0)
		}
		p, err := e.creds.ListCredentials(ctx, &credentialsv1.ListCredentialsRequest{AgentId: otherAgent, PageSize: size(1)})
		if err != nil {
			t.Fatal(err)
		}
		return p.GetNextPageToken()
	}()

	create := func(agent string, ttl int64) func() error {
		return func() error {
			_, err := e.creds.CreateCredential(ctx, &credentialsv1.CreateCredentialRequest{AgentId: agent, TtlSeconds: ttl})
			return err
		}
	}
	rotate := func(agent, id string, grace int64) func() error {
		return func() error {
			_, err := e.creds.RotateCredential(ctx, &credentialsv1.RotateCredentialRequest{AgentId: agent, CredentialId: id, GracePeriodSeconds: grace})
			return err
		}
	}
	revoke := func(agent, id string) func() error {
		return func() error {
			_, err := e.creds.RevokeCredential(ctx, &credentialsv1.RevokeCredentialRequest{AgentId: agent, CredentialId: id})
			return err
		}
	}
	list := func(agent string, pageSize *int32, token string) func() error {
		return func() error {
			_, err := e.creds.ListCredentials(ctx, &credentialsv1.ListCredentialsRequest{AgentId: agent, PageSize: pageSize, PageToken: token})
			return err
		}
	}
	tests := []struct {
		name   string
		call   func() error
		code   codes.Code
		reason string
		field  string
		http   int
	}{
		{"create: unknown agent", create(unknown, 0), codes.NotFound, "AGENT_NOT_FOUND", "", 404},
		{"create: suspended agent", create(suspended, 0), codes.FailedPrecondition, "AGENT_NOT_ACTIVE", "", 400},
		{"create: decommissioned agent", create(gone, 0), codes.FailedPrecondition, "AGENT_NOT_ACTIVE", "", 400},
		{"create: negative ttl", create(agentID, -1), codes.InvalidArgument, "FIELD_INVALID", "ttlSeconds", 400},
		{"create: ttl beyond ten years", create(agentID, 315360001), codes.InvalidArgument, "FIELD_INVALID", "ttlSeconds", 400},
		{"create: malformed agent id", create("agent-1", 0), codes.InvalidArgument, "FIELD_INVALID", "agentId", 400},
		{"create: missing agent id", create("", 0), codes.InvalidArgument, "FIELD_REQUIRED", "agentId", 400},
		{"rotate: negative grace", rotate(agentID, cred, -5), codes.InvalidArgument, "FIELD_INVALID", "gracePeriodSeconds", 400},
		{"rotate: grace over a day", rotate(agentID, cred, 86401), codes.InvalidArgument, "GRACE_PERIOD_TOO_LONG", "gracePeriodSeconds", 400},
		{"rotate: malformed credential id", rotate(agentID, "cred-1", 0), codes.InvalidArgument, "FIELD_INVALID", "credentialId", 400},
		{"rotate: unknown credential", rotate(agentID, unknown, 0), codes.NotFound, "CREDENTIAL_NOT_FOUND", "", 404},
		{"rotate: another agent's credential", rotate(agentID, otherCred, 0), codes.NotFound, "CREDENTIAL_NOT_FOUND", "", 404},
		{"rotate: unknown agent", rotate(unknown, cred, 0), codes.NotFound, "AGENT_NOT_FOUND", "", 404},
		{"revoke: unknown credential", revoke(agentID, unknown), codes.NotFound, "CREDENTIAL_NOT_FOUND", "", 404},
		{"revoke: another agent's credential", revoke(agentID, otherCred), codes.NotFound, "CREDENTIAL_NOT_FOUND", "", 404},
		{"revoke: malformed agent id", revoke("x", cred), codes.InvalidArgument, "FIELD_INVALID", "agentId", 400},
		{"revoke: non-canonical credential id", revoke(agentID, "{"+cred+"}"), codes.InvalidArgument, "FIELD_INVALID", "credentialId", 400},
		{"list: page size 0", list(agentID, size(0), ""), codes.InvalidArgument, "INVALID_PAGE_SIZE", "pageSize", 400},
		{"list: page size 101", list(agentID, size(101), ""), codes.InvalidArgument, "INVALID_PAGE_SIZE", "pageSize", 400},
		{"list: garbage token", list(agentID, nil, "not-a-token"), codes.InvalidArgument, "INVALID_PAGE_TOKEN", "pageToken", 400},
		{"list: another agent's token", list(agentID, nil, otherToken), codes.InvalidArgument, "INVALID_PAGE_TOKEN", "pageToken", 400},
		{"list: unknown agent", list(unknown, nil, ""), codes.NotFound, "AGENT_NOT_FOUND", "", 404},
		{"list: malformed agent id", list("nope", nil, ""), codes.InvalidArgument, "FIELD_INVALID", "agentId", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			wantError(t, err, tt.code, tt.reason, tt.field)
			// The status Envoy's transcoder gives the code.
			if got := apierror.KindOf(apierror.FromStatus(err)).HTTPStatus(); got != tt.http {
				t.Fatalf("HTTP status %d, want %d", got, tt.http)
			}
		})
	}
	// Nothing was written by the rejected calls.
	var n int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM credentials WHERE agent_id = ANY($1::uuid[])`,
		[]string{suspended, gone, unknown}).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d credentials written for rejected calls (%v)", n, err)
	}
	if _, err := e.verify(agentID, e.create(agentID, 0).GetClientSecret()); err != nil {
		t.Fatalf("the rejected calls broke something: %v", err)
	}
}

// The registry is down: calls that need it answer UNAVAILABLE, fast.
func TestRegistryDownIsUnavailable(t *testing.T) {
	t.Parallel()
	ok := newEnv(t, options{noFeed: true})
	agentID := ok.newAgent()
	ic := ok.create(agentID, 0)
	down := newEnv(t, options{dbURL: ok.dbURL, noFeed: true, registryAddr: testkit.Addr(testkit.MustFreePort(t))})
	_, err := down.creds.CreateCredential(context.Background(), &credentialsv1.CreateCredentialRequest{AgentId: agentID})
	wantError(t, err, codes.Unavailable, "SERVICE_UNAVAILABLE", "")
	// The projection does not know the agent (no feed): the registry is
	// needed, and a dependency failure is not an authentication failure.
	_, err = down.verify(agentID, ic.GetClientSecret())
	wantError(t, err, codes.Unavailable, "SERVICE_UNAVAILABLE", "")
	// Revocation needs only Postgres.
	if _, err := down.creds.RevokeCredential(context.Background(), &credentialsv1.RevokeCredentialRequest{
		AgentId: agentID, CredentialId: ic.GetCredential().GetCredentialId()}); err != nil {
		t.Fatal(err)
	}
}
