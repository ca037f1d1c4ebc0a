// Package catalog lists the services the gateway knows how to route to and
// the REST paths each one owns. Routes are code, not configuration, because
// they are tied to the protos; the gateway config file only says where each
// service runs.
package catalog

import "slices"

// Protocol is how Envoy talks to a service's endpoints.
type Protocol int

const (
	// GRPCTranscoded services speak gRPC; Envoy's gRPC-JSON transcoder
	// serves their REST mapping (google.api.http annotations).
	GRPCTranscoded Protocol = iota
	// HTTP services speak plain HTTP/1.1 and are proxied as they are (the
	// token service's /oauth2/ and /.well-known/ endpoints).
	HTTP
	// ExtAuthz is the authorization service: gRPC
	// (envoy.service.auth.v3.Authorization), called by Envoy's ext_authz
	// filter for every request of every route that is not Public. It owns
	// no routes.
	ExtAuthz
)

// Route is one path match that sends a request to a service.
type Route struct {
	// Exactly one of Path (exact match), Prefix and Regex (RE2, whole path)
	// is set.
	Path   string
	Prefix string
	Regex  string
	// Limit names the per-client-address limit of the gateway config
	// (rateLimits) that Envoy applies to the route; "" none.
	Limit Limit
}

// Limit names a per-client-address limit of the gateway config.
type Limit string

// LimitOAuth is rateLimits.oauth: the OAuth endpoints anyone may call.
const LimitOAuth Limit = "oauth"

// Service is one row of the routing table.
type Service struct {
	// Name is the key in the gateway config file and the Envoy cluster name.
	Name     string
	Protocol Protocol
	// GRPCServices are the fully qualified gRPC services the transcoder
	// maps for GRPCTranscoded services.
	GRPCServices []string
	Routes       []Route
	// ReadinessPath, for HTTP services, answers 200 only when the service
	// and its own dependencies are up (the twin of grpc.health.v1 SERVING):
	// Envoy's health checks and the gateway's /readyz probe it.
	ReadinessPath string
	// Public routes skip the ext_authz filter: the service authenticates
	// its callers itself (the token service's client authentication) or
	// serves what anyone may read (JWKS, metadata).
	Public bool
}

// Authz is the catalog name of the authorization service.
const Authz = "authz"

// services is the routing table. Adding a service is adding a row (its
// name, protocol, gRPC services and paths); the config file then gives its
// endpoints, and the policy's route table (policies/data/scopes.json) its
// scopes.
//
// Order matters: Envoy takes the first match, so a service owning
// sub-resources of another's prefix comes first (credentials before the
// registry's /v1/agents/).
var services = []Service{
	{
		Name:         "credentials",
		Protocol:     GRPCTranscoded,
		GRPCServices: []string{"agentidp.credentials.v1.CredentialsService"},
		// /v1/agents/{agentId}/credentials[/{credentialId}[:rotate]]
		Routes: []Route{{Regex: `/v1/agents/[^/]+/credentials(/[^/]+)?`}},
	},
	{
		Name:         "registry",
		Protocol:     GRPCTranscoded,
		GRPCServices: []string{"agentidp.registry.v1.RegistryService"},
		// The exact match serves the collection (POST, GET list); the prefix
		// with a trailing slash serves /v1/agents/{agentId}[/...] without
		// also catching a sibling such as /v1/agentsx.
		Routes: []Route{{Path: "/v1/agents"}, {Prefix: "/v1/agents/"}},
	},
	{
		// The OAuth 2.0 endpoints (/oauth2/token, /oauth2/introspect,
		// /oauth2/revoke) and discovery (/.well-known/jwks.json,
		// /.well-known/oauth-authorization-server), proxied as they are:
		// their errors are RFC 6749 JSON, not google.rpc.Status.
		Name:          "token",
		Protocol:      HTTP,
		Routes:        []Route{{Prefix: "/oauth2/", Limit: LimitOAuth}, {Prefix: "/.well-known/"}},
		ReadinessPath: "/readyz",
		Public:        true,
	},
	{
		// The audit log's query API; its ingest service is internal.
		Name:         "audit",
		Protocol:     GRPCTranscoded,
		GRPCServices: []string{"agentidp.audit.v1.AuditService"},
		Routes: []Route{{Path: "/v1/audit/events"}, {Prefix: "/v1/audit/events/"}, {Path: "/v1/audit/verify"},
			{Path: "/v1/audit/checkpoints"}},
	},
	{
		// The ext_authz server every other route goes through (services/authz).
		// A literal (= Authz): deploy/checks reads the rows from the source.
		Name:     "authz",
		Protocol: ExtAuthz,
	},
}

// Services returns the routing table in a stable order.
func Services() []Service {
	return slices.Clone(services)
}

// Lookup returns the service called name.
func Lookup(name string) (Service, bool) {
	for _, s := range services {
		if s.Name == name {
			return s, true
		}
	}
	return Service{}, false
}

// Names returns the known service names, for error messages.
func Names() []string {
	names := make([]string, len(services))
	for i, s := range services {
		names[i] = s.Name
	}
	return names
}

// TranscodedGRPCServices returns every gRPC service the transcoder maps.
func TranscodedGRPCServices() []string {
	var out []string
	for _, s := range services {
		if s.Protocol == GRPCTranscoded {
			out = append(out, s.GRPCServices...)
		}
	}
	return out
}
