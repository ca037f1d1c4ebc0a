// Package requestinfo carries who asked for a change and through which
// request, from the gRPC edge to the code that records audit events.
package requestinfo

import (
	"context"
	"net"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
)

// Headers the gateway sets. x-agent-id is set by the authz service after it
// verified the caller's token (and removed whatever the client sent);
// x-request-id and x-forwarded-for by Envoy.
const (
	HeaderAgentID   = "x-agent-id"
	HeaderRequestID = "x-request-id"
	HeaderForwarded = "x-forwarded-for"
)

// System is the actor of changes no agent asked for (start-up, feeds,
// internal calls without a caller).
const System = "system"

// Info describes the request behind a change.
type Info struct {
	Actor         string // agent id of the caller, or System
	RequestID     string
	SourceAddress string // the client's IP address
}

type key struct{}

// With returns ctx carrying info.
func With(ctx context.Context, info Info) context.Context {
	return context.WithValue(ctx, key{}, info)
}

// From returns the request info in ctx, or a System actor.
func From(ctx context.Context) Info {
	if info, ok := ctx.Value(key{}).(Info); ok {
		return info
	}
	return Info{Actor: System}
}

// FromIncoming reads the request info from gRPC metadata and the peer.
func FromIncoming(ctx context.Context) Info {
	md, _ := metadata.FromIncomingContext(ctx)
	info := Info{Actor: first(md, HeaderAgentID), RequestID: first(md, HeaderRequestID)}
	if info.Actor == "" {
		info.Actor = System
	}
	if xff := ForwardedClient(md.Get(HeaderForwarded)...); xff != "" {
		info.SourceAddress = xff
	} else if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		host, _, err := net.SplitHostPort(p.Addr.String())
		if err == nil {
			info.SourceAddress = host
		}
	}
	info.Actor = bounded(info.Actor, 64)
	info.RequestID = bounded(info.RequestID, 128)
	info.SourceAddress = bounded(info.SourceAddress, 64)
	return info
}

// ForwardedClient returns the client address from X-Forwarded-For values
// (the header's lines in order): the right-most entry. Envoy, the edge,
// appends the address it saw (use_remote_address, no trusted hops) to
// whatever the client sent, so every entry left of it is the client's to
// choose; an audit record must not say what the client chose.
func ForwardedClient(values ...string) string {
	for i := len(values) - 1; i >= 0; i-- {
		for v := values[i]; v != ""; {
			entry := v
			if j := strings.LastIndexByte(v, ','); j >= 0 {
				entry, v = v[j+1:], v[:j]
			} else {
				v = ""
			}
			if entry = strings.TrimSpace(entry); entry != "" {
				return entry
			}
		}
	}
	return ""
}

// UnaryServer puts the request info of every call into its context.
func UnaryServer(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	return handler(With(ctx, FromIncoming(ctx)), req)
}

func first(md metadata.MD, k string) string {
	if v := md.Get(k); len(v) > 0 {
		return v[0]
	}
	return ""
}

// bounded cuts client-controlled values to a sane length.
func bounded(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
