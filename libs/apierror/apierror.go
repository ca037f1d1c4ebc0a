// Package apierror is AgentIdP's error model: domain packages declare typed
// errors with a stable reason; the transport edge maps them to gRPC status
// (with google.rpc.ErrorInfo) or HTTP in exactly one place.
package apierror

import (
	"errors"
	"fmt"
)

// Domain is the ErrorInfo domain of every error AgentIdP returns.
const Domain = "agentidp.dev"

// Kind classifies an error the way callers need to react to it. Each kind
// maps to one gRPC code and one HTTP status (see grpc.go and http.go).
type Kind int

const (
	Internal Kind = iota
	InvalidArgument
	NotFound
	AlreadyExists
	FailedPrecondition
	Aborted // optimistic concurrency conflict (stale etag)
	Unauthenticated
	PermissionDenied
	ResourceExhausted
	Unavailable
	DeadlineExceeded
)

var kindNames = [...]string{
	Internal: "INTERNAL", InvalidArgument: "INVALID_ARGUMENT", NotFound: "NOT_FOUND",
	AlreadyExists: "ALREADY_EXISTS", FailedPrecondition: "FAILED_PRECONDITION",
	Aborted: "ABORTED", Unauthenticated: "UNAUTHENTICATED", PermissionDenied: "PERMISSION_DENIED",
	ResourceExhausted: "RESOURCE_EXHAUSTED", Unavailable: "UNAVAILABLE", DeadlineExceeded: "DEADLINE_EXCEEDED",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Error is an error a client may see. Reason is a stable UPPER_SNAKE code;
// Message is for humans; Field names the offending request field, if any.
// Never put a secret in any of them.
type Error struct {
	Kind     Kind
	Reason   string
	Message  string
	Field    string
	Metadata map[string]string
}

// New returns an error of the given kind and reason.
func New(kind Kind, reason, message string) *Error {
	return &Error{Kind: kind, Reason: reason, Message: message}
}

// Invalid returns an InvalidArgument error about one request field.
func Invalid(reason, field, message string) *Error {
	return &Error{Kind: InvalidArgument, Reason: reason, Message: message, Field: field}
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s (field %s)", e.Reason, e.Message, e.Field)
	}
	return e.Reason + ": " + e.Message
}

// Is lets errors.Is match on kind and reason, so a sentinel such as
// ErrAgentNotFound matches a copy that carries a different message.
func (e *Error) Is(target error) bool {
	var t *Error
	if !errors.As(target, &t) {
		return false
	}
	return e.Kind == t.Kind && e.Reason == t.Reason
}

// WithMessage returns a copy of e with another message (e.g. naming an id).
func (e *Error) WithMessage(format string, args ...any) *Error {
	c := *e
	c.Message = fmt.Sprintf(format, args...)
	return &c
}

// WithField returns a copy of e that names the offending field.
func (e *Error) WithField(field string) *Error {
	c := *e
	c.Field = field
	return &c
}

// WithMetadata returns a copy of e whose ErrorInfo metadata also holds
// key: value.
func (e *Error) WithMetadata(key, value string) *Error {
	c := *e
	c.Metadata = make(map[string]string, len(e.Metadata)+1)
	for k, v := range e.Metadata {
		c.Metadata[k] = v
	}
	c.Metadata[key] = value
	return &c
}

// As returns the *Error in err's chain, or nil.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// KindOf returns the kind of err; errors that are not *Error are Internal.
func KindOf(err error) Kind {
	if e := As(err); e != nil {
		return e.Kind
	}
	return Internal
}
