package apierror

import (
	"bytes"
	"encoding/json"
	"net/http"

	"google.golang.org/grpc/codes"
)

var kindHTTP = [...]int{
	Internal: http.StatusInternalServerError, InvalidArgument: http.StatusBadRequest,
	NotFound: http.StatusNotFound, AlreadyExists: http.StatusConflict,
	FailedPrecondition: http.StatusBadRequest, Aborted: http.StatusConflict,
	Unauthenticated: http.StatusUnauthorized, PermissionDenied: http.StatusForbidden,
	ResourceExhausted: http.StatusTooManyRequests, Unavailable: http.StatusServiceUnavailable,
	DeadlineExceeded: http.StatusGatewayTimeout,
}

// HTTPStatus returns the HTTP status of a kind; it agrees with the mapping
// Envoy's transcoder applies to the kind's gRPC code.
func (k Kind) HTTPStatus() int {
	if int(k) < len(kindHTTP) {
		return kindHTTP[k]
	}
	return http.StatusInternalServerError
}

// httpKinds is HTTPStatus backwards; where two kinds share a status, the
// one a client reading only the status would assume (400: the request is
// invalid; 409: a conflict, retried after a fresh read).
var httpKinds = map[int]Kind{
	http.StatusBadRequest: InvalidArgument, http.StatusUnauthorized: Unauthenticated,
	http.StatusForbidden: PermissionDenied, http.StatusNotFound: NotFound,
	http.StatusConflict: Aborted, http.StatusTooManyRequests: ResourceExhausted,
	http.StatusInternalServerError: Internal, http.StatusServiceUnavailable: Unavailable,
	http.StatusGatewayTimeout: DeadlineExceeded,
}

// CodeOfHTTPStatus is the gRPC code of an answer that is known only by its
// HTTP status (a policy's denial): the code of the kind with that status,
// UNKNOWN where no kind has it.
func CodeOfHTTPStatus(status int) codes.Code {
	if k, ok := httpKinds[status]; ok {
		return k.Code()
	}
	return codes.Unknown
}

// Errors that any part of the mesh may answer (Envoy itself, authz, a
// service's own HTTP edge), declared once so that they read the same
// whichever part answered.
const (
	ReasonRouteNotFound      = "ROUTE_NOT_FOUND"
	ReasonMalformedRequest   = "MALFORMED_REQUEST"
	ReasonRateLimited        = "RATE_LIMITED"
	ReasonServiceUnavailable = "SERVICE_UNAVAILABLE"
)

// ErrRouteNotFound answers a path (or method) that no route has.
var ErrRouteNotFound = New(NotFound, ReasonRouteNotFound, "no route matches this path")

// Body is the JSON body of an AgentIdP error over HTTP: a google.rpc.Status
// with one google.rpc.ErrorInfo (domain Domain) and, for a field error, a
// google.rpc.BadRequest, written as Envoy's transcoder writes a service's
// gRPC status — the same members in the same order — so that an error
// reads byte for byte the same whichever part of the mesh answered:
//
//	{"code":5,"message":"…","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo",
//	 "reason":"…","domain":"agentidp.dev","metadata":{"requestId":"…"}}]}
type Body struct {
	Code    codes.Code
	Message string
	Reason  string
	// Metadata of the ErrorInfo; RequestID, when set, is added to it as
	// requestId and Field as field.
	Metadata  map[string]string
	RequestID string
	// Field names the offending request field: metadata.field and a
	// BadRequest field violation.
	Field string
}

// HTTPBody returns e's body, as its gRPC status (GRPCStatus) reaches an
// HTTP client through the gateway.
func (e *Error) HTTPBody(requestID string) Body {
	return Body{Code: e.Kind.Code(), Message: e.Message, Reason: e.Reason, Metadata: e.Metadata,
		RequestID: requestID, Field: e.Field}
}

type statusJSON struct {
	Code    uint32 `json:"code"`
	Message string `json:"message"`
	Details []any  `json:"details"`
}

type errorInfoJSON struct {
	Type     string            `json:"@type"`
	Reason   string            `json:"reason"`
	Domain   string            `json:"domain"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

type badRequestJSON struct {
	Type            string               `json:"@type"`
	FieldViolations []fieldViolationJSON `json:"fieldViolations"`
}

type fieldViolationJSON struct {
	Field       string `json:"field"`
	Description string `json:"description,omitempty"`
	Reason      string `json:"reason,omitempty"`
}

// JSON renders the body: map keys in sorted order, <, > and & as they are
// (as the transcoder writes them), no trailing newline.
func (b Body) JSON() []byte {
	meta := b.Metadata
	if b.RequestID != "" || b.Field != "" {
		meta = make(map[string]string, len(b.Metadata)+2)
		for k, v := range b.Metadata {
			meta[k] = v
		}
		if b.RequestID != "" {
			meta["requestId"] = b.RequestID
		}
		if b.Field != "" {
			meta["field"] = b.Field
		}
	}
	details := []any{errorInfoJSON{Type: "type.googleapis.com/google.rpc.ErrorInfo", Reason: b.Reason, Domain: Domain, Metadata: meta}}
	if b.Field != "" {
		details = append(details, badRequestJSON{Type: "type.googleapis.com/google.rpc.BadRequest",
			FieldViolations: []fieldViolationJSON{{Field: b.Field, Description: b.Message, Reason: b.Reason}}})
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(statusJSON{Code: uint32(b.Code), Message: b.Message, Details: details}) // strings and a number: cannot fail
	return bytes.TrimSuffix(out.Bytes(), []byte("\n"))
}

// WriteHTTP answers an HTTP request with e: its kind's status, its Body
// (with the request's id), and no caching.
func WriteHTTP(w http.ResponseWriter, e *Error, requestID string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(e.Kind.HTTPStatus())
	_, _ = w.Write(e.HTTPBody(requestID).JSON())
}
