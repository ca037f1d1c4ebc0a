package apierror_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sentryagent/agentidp/libs/apierror"
)

var errThing = apierror.New(apierror.NotFound, "THING_NOT_FOUND", "thing not found")

func TestToStatus(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		code   codes.Code
		reason string
		msg    string
	}{
		{"domain error", errThing, codes.NotFound, "THING_NOT_FOUND", "thing not found"},
		{"wrapped domain error", fmt.Errorf("load: %w", errThing.WithMessage("thing 7 not found")), codes.NotFound, "THING_NOT_FOUND", "thing 7 not found"},
		{"field error", apierror.Invalid("FIELD_REQUIRED", "agent.name", "agent.name is required"), codes.InvalidArgument, "FIELD_REQUIRED", "agent.name is required"},
		{"deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), codes.DeadlineExceeded, "DEADLINE_EXCEEDED", "the request took too long"},
		{"unknown error stays opaque", errors.New("pq: password=hunter2 rejected"), codes.Internal, "INTERNAL", "internal error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := apierror.ToStatus(tt.err)
			if st.Code() != tt.code || st.Message() != tt.msg {
				t.Fatalf("got %v %q, want %v %q", st.Code(), st.Message(), tt.code, tt.msg)
			}
			var info *errdetails.ErrorInfo
			for _, d := range st.Details() {
				if i, ok := d.(*errdetails.ErrorInfo); ok {
					info = i
				}
			}
			if info == nil || info.GetReason() != tt.reason || info.GetDomain() != apierror.Domain {
				t.Fatalf("ErrorInfo = %v, want reason %s", info, tt.reason)
			}
		})
	}
}

func TestFromStatusRoundTrip(t *testing.T) {
	sent := errThing.WithMessage("thing 9 not found").WithField("thingId")
	got := apierror.FromStatus(apierror.ToStatus(sent).Err())
	if !errors.Is(got, errThing) {
		t.Fatalf("errors.Is(%v, errThing) = false", got)
	}
	e := apierror.As(got)
	if e.Field != "thingId" || e.Message != "thing 9 not found" {
		t.Fatalf("got %+v", e)
	}
	// A status from elsewhere keeps its code as its kind.
	plain := apierror.FromStatus(status.Error(codes.Unavailable, "down"))
	if apierror.KindOf(plain) != apierror.Unavailable {
		t.Fatalf("kind %v", apierror.KindOf(plain))
	}
}

func TestEveryKindMapsToACodeAndHTTPStatus(t *testing.T) {
	for k := apierror.Internal; k <= apierror.DeadlineExceeded; k++ {
		if k != apierror.Internal && (k.Code() == codes.Internal || k.HTTPStatus() == 500) {
			t.Errorf("%v maps to INTERNAL", k)
		}
	}
}
