package mtls

import (
	"net/http"
	"strings"
)

// Allow maps a caller's mesh identity to the methods it may call on one
// server: full gRPC method names ("/agentidp.registry.v1.RegistryService/GetAgent"),
// a whole gRPC service ("/agentidp.registry.v1.RegistryService/*"), or,
// for the token service's HTTP listener, URL paths ("/.well-known/jwks.json",
// "/*" for every path).
type Allow map[string][]string

// Permits reports whether caller may call method.
func (a Allow) Permits(caller, method string) bool {
	for _, m := range a[caller] {
		if m == method || (strings.HasSuffix(m, "/*") && strings.HasPrefix(method, m[:len(m)-1])) {
			return true
		}
	}
	return false
}

// gRPC services of the mesh, as their full names' prefixes.
const (
	registrySvc      = "/agentidp.registry.v1.RegistryService/"
	agentEventsSvc   = "/agentidp.registry.v1.AgentEventsService/"
	credentialsSvc   = "/agentidp.credentials.v1.CredentialsService/"
	clientAuthSvc    = "/agentidp.credentials.v1.ClientAuthService/"
	credEventsSvc    = "/agentidp.credentials.v1.CredentialEventsService/"
	auditSvc         = "/agentidp.audit.v1.AuditService/"
	extAuthzSvc      = "/envoy.service.auth.v3.Authorization/"
	watchAgents      = agentEventsSvc + "WatchAgentEvents"
	watchCredentials = credEventsSvc + "WatchCredentialEvents"
)

// Mesh is who may call what, by server: every internal call of AgentIdP,
// from the code that makes it (docs/architecture.md, "Mutual TLS inside
// the mesh", holds the same table). The gateway (Envoy) calls what its
// routes transcode; services call each other's change feeds and the few
// reads they need; the bootstrap command (operators) creates the first
// platform admin. grpc.health.v1 is open to every mesh certificate
// (libs/grpcserver). A caller or method missing here is PERMISSION_DENIED.
var Mesh = map[string]Allow{
	Registry: {
		Gateway:     {registrySvc + "*"},
		Credentials: {registrySvc + "GetAgent", watchAgents},
		Token:       {registrySvc + "GetAgent", watchAgents},
		Authz:       {registrySvc + "GetAgent", watchAgents},
		Audit:       {watchAgents},
		Bootstrap:   {registrySvc + "ListAgents", registrySvc + "CreateAgent", registrySvc + "UpdateAgent", registrySvc + "GetAgent"},
	},
	Credentials: {
		Gateway: {credentialsSvc + "*"},
		// Verifying a secret, never creating or rotating a credential.
		Token:     {clientAuthSvc + "VerifyClientSecret", watchCredentials},
		Authz:     {watchCredentials},
		Audit:     {watchCredentials},
		Bootstrap: {credentialsSvc + "ListCredentials", credentialsSvc + "CreateCredential", credentialsSvc + "RevokeCredential", clientAuthSvc + "VerifyClientSecret"},
	},
	// AuditIngestService.Record has no caller in the mesh (token and authz
	// write to the Redis stream): it is refused until a producer gets a row.
	Audit: {
		Gateway: {auditSvc + "*"},
	},
	Authz: {
		Gateway: {extAuthzSvc + "Check"},
	},
	// The token service's HTTP listener: the OAuth 2.0 endpoints through
	// the gateway, its keys for authz.
	Token: {
		Gateway: {"/*"},
		Authz:   {"/.well-known/jwks.json"},
	},
}

// Handler serves next to the mesh callers a permits for the request's
// path (an HTTP listener behind ServerTLS: the caller's identity is its
// verified client certificate), and 403 to any other.
func (a Allow) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		caller, ok := StateName(r.TLS)
		if !ok || !a.Permits(caller, r.URL.Path) {
			http.Error(w, "forbidden: this mesh identity may not call "+r.URL.Path, http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}
