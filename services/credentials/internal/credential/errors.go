package credential

import "github.com/sentryagent/agentidp/libs/apierror"

// Errors clients see; reasons are part of the public API.
var (
	ErrAgentNotFound  = apierror.New(apierror.NotFound, "AGENT_NOT_FOUND", "agent not found")
	ErrAgentNotActive = apierror.New(apierror.FailedPrecondition, "AGENT_NOT_ACTIVE",
		"the agent is not active")
	// ErrNotFound also answers for a credential of another agent.
	ErrNotFound       = apierror.New(apierror.NotFound, "CREDENTIAL_NOT_FOUND", "credential not found")
	ErrNotActive      = apierror.New(apierror.FailedPrecondition, "CREDENTIAL_NOT_ACTIVE", "the credential is revoked or expired")
	ErrRotationActive = apierror.New(apierror.Aborted, "ROTATION_IN_PROGRESS",
		"another rotation of this credential has not finished; retry in a few seconds")
	// ErrEscalation: a caller may create, rotate or revoke credentials only
	// of agents whose scopes it holds itself (else a credentials:write
	// holder could mint a secret for a more powerful agent).
	ErrEscalation = apierror.New(apierror.PermissionDenied, "SCOPE_ESCALATION",
		"credentials of an agent holding scopes the caller does not hold are out of its reach")
	// ErrInvalidClient is the one answer to every failed verification.
	ErrInvalidClient = apierror.New(apierror.Unauthenticated, "INVALID_CLIENT", "invalid client")

	// Dependencies that are down. Callers retry; nothing was half-written.
	ErrVaultUnavailable = apierror.New(apierror.Unavailable, "SERVICE_UNAVAILABLE",
		"the secret store is unavailable; retry later")
	ErrDatabaseUnavailable = apierror.New(apierror.Unavailable, "SERVICE_UNAVAILABLE",
		"the database is unavailable; retry later")
	ErrRegistryUnavailable = apierror.New(apierror.Unavailable, "SERVICE_UNAVAILABLE",
		"the agent registry is unavailable; retry later")
	// ErrVerifierBusy: every bcrypt slot stayed taken (legacy secrets).
	// RESOURCE_EXHAUSTED, not UNAVAILABLE: the service is up, and a
	// caller's circuit breaker must not open on it.
	ErrVerifierBusy = apierror.New(apierror.ResourceExhausted, "VERIFIER_BUSY",
		"too many legacy secret verifications at once; retry later")

	errRequired     = apierror.New(apierror.InvalidArgument, "FIELD_REQUIRED", "")
	errInvalid      = apierror.New(apierror.InvalidArgument, "FIELD_INVALID", "")
	errGraceTooLong = apierror.New(apierror.InvalidArgument, "GRACE_PERIOD_TOO_LONG", "")
	errPageSize     = apierror.New(apierror.InvalidArgument, "INVALID_PAGE_SIZE", "")
	errPageToken    = apierror.New(apierror.InvalidArgument, "INVALID_PAGE_TOKEN", "")
)

func fieldError(base *apierror.Error, field, format string, args ...any) *apierror.Error {
	return base.WithMessage(format, args...).WithField(field)
}
