package oauth

import (
	"time"

	"github.com/sentryagent/agentidp/libs/apierror"
	"github.com/sentryagent/agentidp/libs/ratelimit"
)

// The service's errors. Each Reason is an RFC 6749 §5.2 / RFC 6750 §3.1 /
// RFC 7009 error code in upper case; the HTTP edge writes it in lower case
// as the "error" field, with the Kind's status (400, 401, 403, 429, 503).
var (
	ErrInvalidRequest = apierror.New(apierror.InvalidArgument, "INVALID_REQUEST", "the request is malformed")
	// ErrInvalidClient is the one answer to every failed client
	// authentication: unknown client, wrong secret, revoked or expired
	// credential. Its message never says which.
	ErrInvalidClient = apierror.New(apierror.Unauthenticated, "INVALID_CLIENT", "client authentication failed")
	// ErrUnauthorizedClient: authenticated, but the agent may not obtain
	// tokens (it is suspended). 400 per RFC 6749 §5.2.
	ErrUnauthorizedClient = apierror.New(apierror.FailedPrecondition, "UNAUTHORIZED_CLIENT", "the client may not obtain tokens")
	ErrUnsupportedGrant   = apierror.New(apierror.InvalidArgument, "UNSUPPORTED_GRANT_TYPE", "only grant_type=client_credentials is supported")
	ErrInvalidScope       = apierror.New(apierror.InvalidArgument, "INVALID_SCOPE", "the requested scope is invalid or exceeds the client's scopes")
	ErrUnavailable        = apierror.New(apierror.Unavailable, "TEMPORARILY_UNAVAILABLE", "the service cannot authenticate clients right now; retry later")
	ErrInvalidToken       = apierror.New(apierror.Unauthenticated, "INVALID_TOKEN", "the access token is invalid, expired or revoked")
	ErrInsufficientScope  = apierror.New(apierror.PermissionDenied, "INSUFFICIENT_SCOPE", "the caller lacks the scope "+ScopeIntrospect)
	ErrServer             = apierror.New(apierror.Internal, "SERVER_ERROR", "internal error")
)

// RetryAfterKey is the metadata key of a rate-limit error that holds the
// whole seconds to wait (the Retry-After header).
const RetryAfterKey = "retry_after"

// RateLimited returns the error of a client over its rate limit. It is a
// 429 whose OAuth error code is temporarily_unavailable (RFC 6749 has no
// rate-limit code, and every OAuth client knows that one).
func RateLimited(retryAfter time.Duration) error {
	return rateLimited(retryAfter, "too many token requests for this client")
}

// FailuresLimited returns the error of a request refused because its
// source address failed client authentication too often (for this client,
// or for any): the same 429, and it says nothing about the secret sent.
func FailuresLimited(retryAfter time.Duration) error {
	return rateLimited(retryAfter, "too many failed client authentications from this address")
}

func rateLimited(retryAfter time.Duration, message string) error {
	e := apierror.New(apierror.ResourceExhausted, "TEMPORARILY_UNAVAILABLE", message)
	e.Metadata = map[string]string{RetryAfterKey: ratelimit.RetryAfter(retryAfter)}
	return e
}
