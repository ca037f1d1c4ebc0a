package clientauth

import (
	"context"

	"github.com/sentryagent/agentidp/libs/apierror"
	credentialsv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/credentials/v1"
)

// GRPCVerifier asks the credentials service's ClientAuthService (dialled
// with libs/grpcclient: deadline and circuit breaker).
type GRPCVerifier struct {
	Client credentialsv1.ClientAuthServiceClient
}

var _ Verifier = GRPCVerifier{}

// Verify implements Verifier.
func (g GRPCVerifier) Verify(ctx context.Context, clientID, secret string) (Verified, error) {
	resp, err := g.Client.VerifyClientSecret(ctx, &credentialsv1.VerifyClientSecretRequest{
		ClientId: clientID, ClientSecret: secret,
	})
	if err != nil {
		err = apierror.FromStatus(err)
		switch apierror.KindOf(err) {
		case apierror.InvalidArgument, apierror.NotFound, apierror.PermissionDenied, apierror.FailedPrecondition:
			// Whatever the credentials service says about the client's
			// input is, to the client, a failed authentication.
			return Verified{}, apierror.New(apierror.Unauthenticated, "INVALID_CLIENT", "client authentication failed")
		}
		return Verified{}, err
	}
	v := Verified{
		AgentID: resp.GetAgentId(), CredentialID: resp.GetCredentialId(),
		Scopes: resp.GetScopes(), AgentStatus: resp.GetAgentStatus(), Owner: resp.GetOwner(),
	}
	if resp.GetValidUntil() != nil {
		v.ValidUntil = resp.GetValidUntil().AsTime()
	}
	if v.AgentID == "" {
		v.AgentID = clientID
	}
	return v, nil
}
