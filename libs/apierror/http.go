package apierror

import "net/http"

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
