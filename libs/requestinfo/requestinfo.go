// Package requestinfo carries who is calling and through which request,
// from the gRPC edge to the code that enforces owner isolation and records
// audit events.
package requestinfo

import (
	"context"
	"net"
	"net/url"
	"slices"
	"strings"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
)

// Headers the gateway sets. x-agent-id, x-agent-owner and x-agent-scopes
// are set by the authz service after it verified the caller's token (Envoy
// removed whatever the client sent); x-request-id, x-forwarded-for and
// x-agentidp-gateway by Envoy.
const (
	HeaderAgentID     = "x-agent-id"
	HeaderAgentOwner  = "x-agent-owner" // percent-encoded (EncodeOwner)
	HeaderAgentScopes = "x-agent-scopes"
	HeaderRequestID   = "x-request-id"
	HeaderForwarded   = "x-forwarded-for"
	// HeaderGateway marks every request Envoy routes to a service: such a
	// request is a client's, and without an identity from authz it may see
	// nothing (a route that lost its ext_authz fails closed).
	HeaderGateway = "x-agentidp-gateway"
)

// System is the actor of changes no agent asked for (start-up, feeds,
// internal calls without a caller).
const System = "system"

// ScopePlatformAdmin is the operators' scope: it reaches across owners.
const ScopePlatformAdmin = "platform:admin"

// DefaultOwner is the owner of agents registered without one before owners
// were tenants, and of agents registered by internal callers that name none.
const DefaultOwner = "default"

// Info describes the request behind a call: who called and through which
// request.
type Info struct {
	Actor         string // agent id of the caller, or System
	RequestID     string
	SourceAddress string // the client's IP address
	// Owner and Scopes are the caller's owner and the scopes it may use now
	// (its token's scopes that its agent still holds), as authz asserted
	// them; empty for internal calls.
	Owner  string
	Scopes []string
	// ViaGateway: the call came from a client through the gateway.
	ViaGateway bool
}

// Internal reports whether the call came from another service of the mesh
// rather than from a client through the gateway: no gateway mark and no
// identity asserted by authz.
func (i Info) Internal() bool { return !i.ViaGateway && i.Actor == System }

// Platform reports whether the caller may act across owners: an internal
// call, or a caller holding platform:admin.
func (i Info) Platform() bool { return i.Internal() || i.Holds(ScopePlatformAdmin) }

// Holds reports whether the caller may use scope now.
func (i Info) Holds(scope string) bool { return slices.Contains(i.Scopes, scope) }

// OwnerScope returns the owner the caller is confined to, and false when
// it may act across owners (Platform). A client call without an asserted
// owner is confined to the empty owner, which no agent has.
func (i Info) OwnerScope() (string, bool) {
	if i.Platform() {
		return "", false
	}
	return i.Owner, true
}

// Sees reports whether the caller may see something of owner.
func (i Info) Sees(owner string) bool {
	o, confined := i.OwnerScope()
	return !confined || o == owner
}

// Lacks returns the scopes of want that the caller does not hold: what a
// change would grant or keep beyond the caller's own power. Platform
// callers lack nothing.
func (i Info) Lacks(want []string) []string {
	if i.Platform() {
		return nil
	}
	var out []string
	for _, s := range want {
		if !i.Holds(s) && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// EncodeOwner encodes an owner for the x-agent-owner header (owners are
// UTF-8 text; header values are printable ASCII).
func EncodeOwner(owner string) string { return url.QueryEscape(owner) }

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
	info := Info{Actor: first(md, HeaderAgentID), RequestID: first(md, HeaderRequestID),
		ViaGateway: len(md.Get(HeaderGateway)) > 0}
	if info.Actor == "" {
		info.Actor = System
	}
	if o := first(md, HeaderAgentOwner); o != "" {
		if d, err := url.QueryUnescape(o); err == nil {
			info.Owner = d
		}
	}
	if s := first(md, HeaderAgentScopes); s != "" {
		info.Scopes = strings.Fields(s)
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

// FromPeer is the request info of a call whose metadata is not believed:
// the system, from the peer's address.
func FromPeer(ctx context.Context) Info {
	info := Info{Actor: System}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		if host, _, err := net.SplitHostPort(p.Addr.String()); err == nil {
			info.SourceAddress = bounded(host, 64)
		}
	}
	return info
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
