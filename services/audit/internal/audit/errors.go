package audit

import "github.com/sentryagent/agentidp/libs/apierror"

// The audit service's errors; reasons are part of the public API.
var (
	ErrNotFound = apierror.New(apierror.NotFound, "AUDIT_EVENT_NOT_FOUND", "audit event not found")
	// ErrPlatformOnly: verifying the chain reads every owner's events.
	ErrPlatformOnly = apierror.New(apierror.PermissionDenied, "PLATFORM_ADMIN_REQUIRED",
		"verifying the audit chain reads every owner's events: it needs platform:admin")

	errRequired      = apierror.New(apierror.InvalidArgument, "FIELD_REQUIRED", "")
	errInvalid       = apierror.New(apierror.InvalidArgument, "FIELD_INVALID", "")
	errTooLong       = apierror.New(apierror.InvalidArgument, "FIELD_TOO_LONG", "")
	errTooMany       = apierror.New(apierror.InvalidArgument, "TOO_MANY_VALUES", "")
	errPageSize      = apierror.New(apierror.InvalidArgument, "INVALID_PAGE_SIZE", "")
	errPageToken     = apierror.New(apierror.InvalidArgument, "INVALID_PAGE_TOKEN", "")
	errTimeRange     = apierror.New(apierror.InvalidArgument, "INVALID_TIME_RANGE", "")
	errSequenceRange = apierror.New(apierror.InvalidArgument, "INVALID_SEQUENCE_RANGE", "")
)

// fieldError returns a copy of base about field, with a message.
func fieldError(base *apierror.Error, field, format string, args ...any) *apierror.Error {
	return base.WithMessage(format, args...).WithField(field)
}

func asAPIError(err error) *apierror.Error { return apierror.As(err) }
