package apierror

import (
	"context"
	"errors"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/anypb"
)

var kindCodes = [...]codes.Code{
	Internal: codes.Internal, InvalidArgument: codes.InvalidArgument, NotFound: codes.NotFound,
	AlreadyExists: codes.AlreadyExists, FailedPrecondition: codes.FailedPrecondition,
	Aborted: codes.Aborted, Unauthenticated: codes.Unauthenticated, PermissionDenied: codes.PermissionDenied,
	ResourceExhausted: codes.ResourceExhausted, Unavailable: codes.Unavailable, DeadlineExceeded: codes.DeadlineExceeded,
}

// Code returns the gRPC code of a kind.
func (k Kind) Code() codes.Code {
	if int(k) < len(kindCodes) {
		return kindCodes[k]
	}
	return codes.Internal
}

// ToStatus converts any error into the gRPC status a client should see.
// *Error keeps its kind, reason and field (as ErrorInfo and BadRequest
// details); context errors become CANCELLED / DEADLINE_EXCEEDED; a status
// error from a downstream call passes through; everything else is an opaque
// INTERNAL so that no internal detail (or secret) leaks.
func ToStatus(err error) *status.Status {
	if err == nil {
		return status.New(codes.OK, "")
	}
	if e := As(err); e != nil {
		return e.GRPCStatus()
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return New(DeadlineExceeded, "DEADLINE_EXCEEDED", "the request took too long").GRPCStatus()
	case errors.Is(err, context.Canceled):
		return status.New(codes.Canceled, "the request was cancelled")
	}
	if s, ok := status.FromError(err); ok {
		return s
	}
	return New(Internal, "INTERNAL", "internal error").GRPCStatus()
}

// GRPCStatus implements the interface grpc-go uses to turn an error
// returned by a handler into a status.
func (e *Error) GRPCStatus() *status.Status {
	st := status.New(e.Kind.Code(), e.Message)
	info := &errdetails.ErrorInfo{Reason: e.Reason, Domain: Domain, Metadata: e.Metadata}
	if e.Field != "" {
		info.Metadata = make(map[string]string, len(e.Metadata)+1)
		for k, v := range e.Metadata {
			info.Metadata[k] = v
		}
		info.Metadata["field"] = e.Field
	}
	details := []protoadapt.MessageV1{info}
	if e.Field != "" {
		details = append(details, &errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
			{Field: e.Field, Description: e.Message, Reason: e.Reason},
		}})
	}
	withDetails, err := st.WithDetails(details...)
	if err != nil {
		return st
	}
	return withDetails
}

// FromStatus turns a status received from another AgentIdP service back
// into an *Error, so callers match on kind and reason, never on strings.
func FromStatus(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	e := &Error{Kind: kindFromCode(st.Code()), Reason: st.Code().String(), Message: st.Message()}
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			if d.GetDomain() == Domain {
				e.Reason = d.GetReason()
				e.Field = d.GetMetadata()["field"]
			}
		}
	}
	return e
}

func kindFromCode(c codes.Code) Kind {
	for k, code := range kindCodes {
		if code == c {
			return Kind(k)
		}
	}
	if c == codes.Canceled {
		return Unavailable
	}
	return Internal
}

// WithRequestID returns st with the request id in its ErrorInfo's metadata
// (metadata.requestId, as authz's own answers carry it), so that a client
// quoting an error can be matched with the logs and the audit log, and an
// error looks the same whichever part of the mesh answered.
func WithRequestID(st *status.Status, id string) *status.Status {
	if id == "" {
		return st
	}
	p := st.Proto()
	for i, d := range p.GetDetails() {
		var info errdetails.ErrorInfo
		if !d.MessageIs(&info) || d.UnmarshalTo(&info) != nil {
			continue
		}
		if info.Metadata == nil {
			info.Metadata = map[string]string{}
		}
		info.Metadata["requestId"] = id
		if a, err := anypb.New(&info); err == nil {
			p.Details[i] = a
		}
	}
	return status.FromProto(p)
}
