package app_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	credentialsv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/credentials/v1"
	registryv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/registry/v1"
)

// untilDenied calls authz in a loop and returns how long after start the
// first 401 with reason came; it fails after a second.
func untilDenied(t *testing.T, a *authz, tok, path, reason string, start time.Time) time.Duration {
	t.Helper()
	for {
		r := a.call("GET", path, "", bearer(tok)...)
		if r.status == 401 {
			if r.reason() != reason {
				t.Fatalf("reason %s, want %s: %s", r.reason(), reason, r.body)
			}
			return time.Since(start)
		}
		if r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		if time.Since(start) > time.Second {
			t.Fatalf("still allowed %s after the change", time.Since(start))
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestKillSwitch: suspending or decommissioning an agent, revoking its
// credential or revoking a token ends its existing tokens on every authz
// replica within a second (measured: tens of milliseconds).
func TestKillSwitch(t *testing.T) {
	p := startPlatform(t)
	replicas := []*authz{p.startAuthz(t, nil), p.startAuthz(t, nil)}

	warm := func(tok, path string) {
		t.Helper()
		for _, a := range replicas {
			if r := a.call("GET", path, "", bearer(tok)...); r.status != 200 {
				t.Fatalf("before the change: %d %s", r.status, r.body)
			}
		}
	}
	measure := func(name, tok, path, reason string, change func()) {
		t.Helper()
		warm(tok, path)
		start := time.Now()
		change()
		for i, a := range replicas {
			took := untilDenied(t, a, tok, path, reason, start)
			t.Logf("%s: replica %d denies %s after the change", name, i+1, took.Round(time.Millisecond))
		}
	}

	t.Run("suspension, and reactivation does not revive old tokens", func(t *testing.T) {
		c := p.agent("agents:read")
		tok := p.token(c, "")
		measure("suspension", tok, "/v1/agents", "AGENT_SUSPENDED", func() { p.setStatus(c.id, "suspended") })
		p.setStatus(c.id, "active")
		time.Sleep(1100 * time.Millisecond) // a token issued in the suspension's second is refused too
		eventually(t, 2*time.Second, func() error {
			for _, a := range replicas {
				if r := a.call("GET", "/v1/agents", "", bearer(tok)...); r.status != 401 || r.reason() != "TOKEN_REVOKED" {
					return fmt.Errorf("old token after reactivation: %d %s", r.status, r.body)
				}
			}
			return nil
		})
		fresh := p.token(c, "")
		for _, a := range replicas {
			if r := a.call("GET", "/v1/agents", "", bearer(fresh)...); r.status != 200 {
				t.Fatalf("new token after reactivation: %d %s", r.status, r.body)
			}
		}
	})

	t.Run("decommissioning", func(t *testing.T) {
		c := p.agent("agents:read")
		tok := p.token(c, "")
		measure("decommission", tok, "/v1/agents", "TOKEN_REVOKED", func() {
			if _, err := p.registry.DeleteAgent(context.Background(), &registryv1.DeleteAgentRequest{AgentId: c.id}); err != nil {
				t.Fatal(err)
			}
		})
	})

	t.Run("credential revocation", func(t *testing.T) {
		c := p.agent("agents:read")
		tok := p.token(c, "")
		measure("credential revocation", tok, "/v1/agents", "TOKEN_REVOKED", func() {
			if _, err := p.credentials.RevokeCredential(context.Background(), &credentialsv1.RevokeCredentialRequest{
				AgentId: c.id, CredentialId: c.credentialID}); err != nil {
				t.Fatal(err)
			}
		})
	})

	t.Run("token revocation", func(t *testing.T) {
		c := p.agent("agents:read")
		tok := p.token(c, "")
		other := p.token(c, "")
		measure("token revocation", tok, "/v1/agents", "TOKEN_REVOKED", func() { p.revokeToken(c, tok) })
		for _, a := range replicas {
			if r := a.call("GET", "/v1/agents", "", bearer(other)...); r.status != 200 {
				t.Fatalf("the agent's other token: %d %s", r.status, r.body)
			}
		}
	})

	t.Run("a scope removed from the agent stops working", func(t *testing.T) {
		c := p.agent("agents:read", "audit:read")
		tok := p.token(c, "")
		warm(tok, "/v1/audit/events")
		if _, err := p.registry.UpdateAgent(context.Background(), &registryv1.UpdateAgentRequest{
			Agent: &registryv1.Agent{AgentId: c.id, Scopes: []string{"agents:read"}}, UpdateMask: fieldMask("scopes"),
		}); err != nil {
			t.Fatal(err)
		}
		eventually(t, time.Second, func() error {
			for _, a := range replicas {
				if r := a.call("GET", "/v1/audit/events", "", bearer(tok)...); r.status != 403 {
					return fmt.Errorf("status %d", r.status)
				}
			}
			return nil
		})
	})
}

// TestStartupFailsClosed: until an authz server has replayed both feeds and
// subscribed to revocations, every check is a 503 and it is not ready.
func TestStartupFailsClosed(t *testing.T) {
	p := startPlatform(t)
	c := p.agent("agents:read")
	tok := p.token(c, "")
	p.registrySrv.Kill()
	a := p.launchAuthz(t, nil)
	for i := 0; i < 3; i++ {
		r := a.call("GET", "/v1/agents", "", bearer(tok)...)
		if r.status != 503 || r.reason() != "SERVICE_UNAVAILABLE" {
			t.Fatalf("with the registry down at start-up: %d %s", r.status, r.body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.registrySrv = startRegistry(t, p)
	a.waitReady()
	if r := a.call("GET", "/v1/agents", "", bearer(tok)...); r.status != 200 {
		t.Fatalf("after the registry came back: %d %s", r.status, r.body)
	}
}
