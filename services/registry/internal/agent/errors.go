package agent

import "github.com/sentryagent/agentidp/libs/apierror"

// The registry's errors; reasons are part of the public API.
var (
	ErrNotFound = apierror.New(apierror.NotFound, "AGENT_NOT_FOUND", "agent not found")
	// ErrDecommissioned: a decommissioned agent cannot change any more.
	ErrDecommissioned = apierror.New(apierror.FailedPrecondition, "AGENT_DECOMMISSIONED",
		"the agent is decommissioned; decommissioning is terminal")
	ErrInvalidTransition = apierror.New(apierror.FailedPrecondition, "INVALID_STATUS_TRANSITION",
		"this status change is not allowed")
	ErrETagMismatch = apierror.New(apierror.Aborted, "ETAG_MISMATCH",
		"the agent changed since it was read; fetch it again and retry with the new etag")

	// ErrOtherOwner: a caller without platform:admin named another owner
	// than its own (registering for it, or moving an agent to it).
	ErrOtherOwner = apierror.New(apierror.PermissionDenied, "OWNER_NOT_ALLOWED",
		"only platform:admin may act for another owner")
	// ErrEscalation: the change would give, or leave in the caller's
	// hands, an agent holding scopes the caller does not hold.
	ErrEscalation = apierror.New(apierror.PermissionDenied, "SCOPE_ESCALATION",
		"an agent may only register or change agents whose scopes it holds itself")

	errRequired      = apierror.New(apierror.InvalidArgument, "FIELD_REQUIRED", "")
	errTooLong       = apierror.New(apierror.InvalidArgument, "FIELD_TOO_LONG", "")
	errInvalid       = apierror.New(apierror.InvalidArgument, "FIELD_INVALID", "")
	errTooMany       = apierror.New(apierror.InvalidArgument, "TOO_MANY_VALUES", "")
	errMetadataLarge = apierror.New(apierror.InvalidArgument, "METADATA_TOO_LARGE", "")
	errUpdateMask    = apierror.New(apierror.InvalidArgument, "INVALID_UPDATE_MASK", "")
	errPageSize      = apierror.New(apierror.InvalidArgument, "INVALID_PAGE_SIZE", "")
	errPageToken     = apierror.New(apierror.InvalidArgument, "INVALID_PAGE_TOKEN", "")
)

// fieldError returns a copy of base about field, with a message.
func fieldError(base *apierror.Error, field, format string, args ...any) *apierror.Error {
	return base.WithMessage(format, args...).WithField(field)
}
