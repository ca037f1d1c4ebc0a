package apierror_test

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/sentryagent/agentidp/libs/apierror"
)

// TestBodyIsTheStatusAsJSON: an error's HTTP body is its gRPC status
// (with the request id) in proto JSON, member for member and in order, as
// the gateway's transcoder renders a service's error.
func TestBodyIsTheStatusAsJSON(t *testing.T) {
	for _, e := range []*apierror.Error{
		errThing.WithMessage("thing <7> & co not found"),
		apierror.Invalid("FIELD_REQUIRED", "agent.name", "agent.name is required"),
		{Kind: apierror.ResourceExhausted, Reason: "RATE_LIMITED", Message: "slow down", Metadata: map[string]string{"bucket": "writes", "zone": "a"}},
	} {
		for _, id := range []string{"", "req-1"} {
			pj, err := protojson.Marshal(apierror.WithRequestID(e.GRPCStatus(), id).Proto())
			if err != nil {
				t.Fatal(err)
			}
			var want bytes.Buffer
			if err := json.Compact(&want, pj); err != nil {
				t.Fatal(err)
			}
			if got := e.HTTPBody(id).JSON(); string(got) != want.String() {
				t.Errorf("%v, request id %q:\n got %s\nwant %s", e, id, got, want.String())
			}
		}
	}
}

func TestBodyBytes(t *testing.T) {
	// authz's denials are compared byte for byte with the registry's
	// answers (deploy/local/e2e TestTwoOwnersOnOneDeployment).
	b := apierror.Body{Code: codes.PermissionDenied, Message: "no", Reason: "POLICY_DENIED", RequestID: "r-1"}
	if got := string(b.JSON()); got != `{"code":7,"message":"no","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"POLICY_DENIED","domain":"agentidp.dev","metadata":{"requestId":"r-1"}}]}` {
		t.Fatal(got)
	}
	b = apierror.Body{Code: codes.NotFound, Message: "gone", Reason: "X"}
	if got := string(b.JSON()); got != `{"code":5,"message":"gone","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"X","domain":"agentidp.dev"}]}` {
		t.Fatal(got)
	}
}

func TestWriteHTTP(t *testing.T) {
	rec := httptest.NewRecorder()
	apierror.WriteHTTP(rec, apierror.ErrRouteNotFound, "r-2")
	if rec.Code != 404 || rec.Header().Get("Content-Type") != "application/json" || rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("%d %v", rec.Code, rec.Header())
	}
	if got := rec.Body.String(); got != `{"code":5,"message":"no route matches this path","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"ROUTE_NOT_FOUND","domain":"agentidp.dev","metadata":{"requestId":"r-2"}}]}` {
		t.Fatal(got)
	}
}

func TestCodeOfHTTPStatus(t *testing.T) {
	// Backwards, every kind's status comes to a kind of that status.
	for k := apierror.Internal; k <= apierror.DeadlineExceeded; k++ {
		c := apierror.CodeOfHTTPStatus(k.HTTPStatus())
		var back apierror.Kind
		for b := apierror.Internal; b <= apierror.DeadlineExceeded; b++ {
			if b.Code() == c {
				back = b
			}
		}
		if back.HTTPStatus() != k.HTTPStatus() {
			t.Errorf("%v: HTTP %d comes back as %v", k, k.HTTPStatus(), c)
		}
	}
	for status, want := range map[int]codes.Code{400: codes.InvalidArgument, 409: codes.Aborted, 429: codes.ResourceExhausted, 418: codes.Unknown} {
		if got := apierror.CodeOfHTTPStatus(status); got != want {
			t.Errorf("%d: %v, want %v", status, got, want)
		}
	}
}
