package grpcserver

import "testing"

// Successful reads log at DEBUG; everything else at INFO or above.
func TestIsRead(t *testing.T) {
	for method, want := range map[string]bool{
		"/agentidp.registry.v1.RegistryService/GetAgent":                 true,
		"/agentidp.registry.v1.RegistryService/ListAgents":               true,
		"/agentidp.audit.v1.AuditService/GetAuditEvent":                  true,
		"/agentidp.registry.v1.RegistryService/CreateAgent":              false,
		"/agentidp.registry.v1.RegistryService/UpdateAgent":              false,
		"/agentidp.registry.v1.RegistryService/DeleteAgent":              false,
		"/agentidp.credentials.v1.CredentialsService/VerifyClientSecret": false,
		"/agentidp.audit.v1.AuditService/Record":                         false,
		"/x.Svc/Forget":                                                  false,
	} {
		if got := isRead(method); got != want {
			t.Errorf("isRead(%s) = %v, want %v", method, got, want)
		}
	}
}
