package bootstrap

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc"

	credentialsv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/credentials/v1"
	registryv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/registry/v1"
)

// Registry is what the bootstrap needs of the registry service
// (registryv1.RegistryServiceClient).
type Registry interface {
	CreateAgent(ctx context.Context, in *registryv1.CreateAgentRequest, opts ...grpc.CallOption) (*registryv1.Agent, error)
	ListAgents(ctx context.Context, in *registryv1.ListAgentsRequest, opts ...grpc.CallOption) (*registryv1.ListAgentsResponse, error)
	UpdateAgent(ctx context.Context, in *registryv1.UpdateAgentRequest, opts ...grpc.CallOption) (*registryv1.Agent, error)
}

// Credentials is what the bootstrap needs of the credentials service
// (credentialsv1.CredentialsServiceClient).
type Credentials interface {
	CreateCredential(ctx context.Context, in *credentialsv1.CreateCredentialRequest, opts ...grpc.CallOption) (*credentialsv1.IssuedCredential, error)
	ListCredentials(ctx context.Context, in *credentialsv1.ListCredentialsRequest, opts ...grpc.CallOption) (*credentialsv1.ListCredentialsResponse, error)
	RevokeCredential(ctx context.Context, in *credentialsv1.RevokeCredentialRequest, opts ...grpc.CallOption) (*credentialsv1.Credential, error)
}

// Verifier checks a secret as the token service does
// (credentialsv1.ClientAuthServiceClient): whether an Output's secret still
// works.
type Verifier interface {
	VerifyClientSecret(ctx context.Context, in *credentialsv1.VerifyClientSecretRequest, opts ...grpc.CallOption) (*credentialsv1.VerifyClientSecretResponse, error)
}

// Config is one run.
type Config struct {
	Registry    Registry
	Credentials Credentials
	Verifier    Verifier
	Output      Output
	// URL is the gateway's public base URL, handed over with the secret.
	URL string
	// Rotate issues a new secret even though the admin has one, and
	// revokes the admin's other credentials once the new one is handed
	// over (a suspected leak, a lost secret).
	Rotate bool
	// RotateIfMissing does the same only when the Output does not hold a
	// working secret (make dev: a deleted .dev/env). Needs an Output that
	// holds one (a Holder).
	RotateIfMissing bool
	// Force reactivates a suspended admin and replaces a decommissioned one.
	Force bool
	// Log receives one line per step; never a secret. Nil: discarded.
	Log func(line string)
}

// Result says what a run found and did.
type Result struct {
	AgentID      string
	AgentCreated bool   // the admin was registered by this run
	Reactivated  bool   // a suspended admin was reactivated (Force)
	Replaced     string // the decommissioned admin a new one replaced (Force)
	CredentialID string // the credential in place after the run
	// Issued: this run created CredentialID and handed its secret to the
	// Output. When false, no secret left the services.
	Issued bool
	// Held: the Output already held a working secret of the admin.
	Held    bool
	Revoked []string // the admin's credentials this run revoked
}

// ErrRefused is returned (wrapped, with the reason) when the deployment's
// admin is suspended or decommissioned: an operator decides, with Force.
var ErrRefused = errors.New("refused")

func refused(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrRefused, fmt.Sprintf(format, args...))
}

type run struct {
	cfg Config
	res Result
}

func (r *run) logf(format string, args ...any) {
	if r.cfg.Log != nil {
		r.cfg.Log(fmt.Sprintf(format, args...))
	}
}

// Run makes sure the platform admin and a credential exist, and hands a
// new secret to cfg.Output when it issues one (see the package doc). It is
// idempotent: a failed run can be run again, and a run after a successful
// one changes nothing unless told to (Rotate, RotateIfMissing, Force).
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Registry == nil || cfg.Credentials == nil || cfg.Verifier == nil || cfg.Output == nil {
		return Result{}, errors.New("bootstrap: Registry, Credentials, Verifier and Output are required")
	}
	if _, ok := cfg.Output.(Holder); cfg.RotateIfMissing && !ok {
		return Result{}, fmt.Errorf("bootstrap: %s holds no secret to check, so rotating when it is missing would rotate on every run; use --rotate", cfg.Output)
	}
	r := &run{cfg: cfg}
	admin, err := r.ensureAdmin(ctx)
	if err != nil {
		return r.res, err
	}
	r.res.AgentID = admin.GetAgentId()
	err = r.ensureCredential(ctx, admin.GetAgentId())
	return r.res, err
}
