package http

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/sentryagent/agentidp/libs/apierror"
	"github.com/sentryagent/agentidp/libs/requestinfo"
)

// requestNote collects what the access log line reports beyond the HTTP
// basics: who the client said it was and how the request failed. Never
// the secret.
type requestNote struct {
	clientID string
	code     string
	cause    error
}

type noteKey struct{}

func noteClient(ctx context.Context, clientID string) {
	if n, ok := ctx.Value(noteKey{}).(*requestNote); ok {
		n.clientID = clientID
	}
}

func noteError(ctx context.Context, code string, err error) {
	if n, ok := ctx.Value(noteKey{}).(*requestNote); ok {
		n.code, n.cause = code, err
	}
}

// accessLog writes one line per OAuth request: Info for successes and
// client errors, Error for server errors (with the cause, which the client
// never sees).
func accessLog(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case PathToken, PathIntrospect, PathRevoke:
		default:
			next.ServeHTTP(w, r) // discovery and health: Envoy's access log suffices
			return
		}
		start := time.Now()
		note := &requestNote{}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		ctx := context.WithValue(r.Context(), noteKey{}, note)
		// For the audit log: Envoy sets x-request-id and x-forwarded-for.
		ctx = requestinfo.With(ctx, requestinfo.Info{
			RequestID: truncate(r.Header.Get(requestinfo.HeaderRequestID), 128), SourceAddress: sourceAddress(r)})
		next.ServeHTTP(sw, r.WithContext(ctx))
		level := slog.LevelInfo
		attrs := make([]slog.Attr, 0, 6)
		attrs = append(attrs, slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", sw.status), slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000))
		if note.clientID != "" {
			attrs = append(attrs, slog.String("client_id", truncate(note.clientID, 64)))
		}
		if note.code != "" {
			attrs = append(attrs, slog.String("error", note.code))
		}
		if sw.status >= 500 {
			level = slog.LevelError
			if note.cause != nil && apierror.As(note.cause) == nil {
				attrs = append(attrs, slog.String("cause", note.cause.Error()))
			}
		}
		logger.LogAttrs(r.Context(), level, "request", attrs...)
	})
}

// sourceAddress is the client Envoy saw: the right-most X-Forwarded-For
// entry (requestinfo.ForwardedClient), else the peer.
func sourceAddress(r *http.Request) string {
	if xff := requestinfo.ForwardedClient(r.Header.Values(requestinfo.HeaderForwarded)...); xff != "" {
		return truncate(xff, 64)
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return ""
	}
	return host
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
