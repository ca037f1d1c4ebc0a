package idp

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// AgentIdPError is every error the API returns, from either of its shapes:
// google.rpc.Status on /v1 (Code is the ErrorInfo reason, e.g.
// AGENT_NOT_FOUND) and RFC 6749 §5.2 on /oauth2 (Code is the OAuth error,
// e.g. invalid_client). A request that never got an answer is one too, with
// HTTPStatus 0 and Code UNAVAILABLE or DEADLINE_EXCEEDED; Unwrap gives the
// cause. Use errors.As:
//
//	var apiErr *idp.AgentIdPError
//	if errors.As(err, &apiErr) && apiErr.Code == "AGENT_NOT_FOUND" { ... }
type AgentIdPError struct {
	// Code is stable: match on it, never on Message.
	Code    string
	Message string
	// HTTPStatus is the response's status, 0 if there was no response.
	HTTPStatus int
	// Details are the google.rpc.Status details as sent (ErrorInfo with
	// its metadata, BadRequest field violations); empty for /oauth2 errors.
	Details []map[string]any
	// RetryAfter is the server's Retry-After (429, 503), 0 if absent.
	RetryAfter time.Duration
	// RequestID is the gateway's x-request-id: quote it when reporting.
	RequestID string
	// Err is the cause when there was no response (network, timeout).
	Err error
}

func (e *AgentIdPError) Error() string {
	var b strings.Builder
	b.WriteString("agentidp: ")
	b.WriteString(e.Code)
	if e.HTTPStatus != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.HTTPStatus)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Err != nil && e.Message == "" {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause of a request that got no response.
func (e *AgentIdPError) Unwrap() error { return e.Err }

// grpcCodes names google.rpc.Code values, for Status bodies without an
// ErrorInfo reason.
var grpcCodes = []string{"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
	"NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
	"ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"}

const errorInfoType = "type.googleapis.com/google.rpc.ErrorInfo"

// parseError turns a non-2xx response into an *AgentIdPError.
func parseError(status int, h http.Header, body []byte) *AgentIdPError {
	e := &AgentIdPError{HTTPStatus: status, RequestID: h.Get("X-Request-Id"), RetryAfter: retryAfter(h)}
	var b struct {
		Code             json.RawMessage  `json:"code"`
		Message          string           `json:"message"`
		Details          []map[string]any `json:"details"`
		Error            string           `json:"error"`
		ErrorDescription string           `json:"error_description"`
	}
	if json.Unmarshal(body, &b) == nil {
		switch {
		case b.Error != "": // RFC 6749 §5.2
			e.Code, e.Message = b.Error, b.ErrorDescription
		case b.Code != nil || b.Message != "": // google.rpc.Status
			e.Message, e.Details = b.Message, b.Details
			for _, d := range b.Details {
				if d["@type"] == errorInfoType {
					if r, ok := d["reason"].(string); ok {
						e.Code = r
					}
				}
			}
			if e.Code == "" {
				if n, err := strconv.Atoi(string(b.Code)); err == nil && n >= 0 && n < len(grpcCodes) {
					e.Code = grpcCodes[n]
				}
			}
		}
	}
	if e.Code == "" {
		e.Code = codeForStatus(status)
	}
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	return e
}

// codeForStatus is the fallback for bodies in neither shape (a proxy's page).
func codeForStatus(status int) string {
	switch status {
	case 400:
		return "INVALID_ARGUMENT"
	case 401:
		return "UNAUTHENTICATED"
	case 403:
		return "PERMISSION_DENIED"
	case 404:
		return "NOT_FOUND"
	case 409:
		return "ABORTED"
	case 429:
		return "RESOURCE_EXHAUSTED"
	case 501:
		return "UNIMPLEMENTED"
	case 503:
		return "UNAVAILABLE"
	case 504:
		return "DEADLINE_EXCEEDED"
	}
	if status >= 500 {
		return "INTERNAL"
	}
	return "UNKNOWN"
}

// retryAfter reads Retry-After as seconds or an HTTP date (RFC 9110 §10.2.3).
func retryAfter(h http.Header) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

// invalidArgument is raised before sending a request that cannot be right.
func invalidArgument(msg string) *AgentIdPError {
	return &AgentIdPError{Code: "INVALID_ARGUMENT", Message: msg}
}
