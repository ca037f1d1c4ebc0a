package chaos

import (
	"fmt"
	"testing"
	"time"

	"github.com/sentryagent/agentidp/deploy/local/stack"
)

// fixture is what the load starts from.
type fixture struct {
	adminToken string
	readers    []string     // tokens of agents holding agents:read
	agents     []string     // agents to read
	warm       []credential // used once already
	fresh      []credential // never used: first uses for the first minute
}

// Sizes of the fixture: two reader agents (each reads at 10/s, under the
// default 100/s of authz's per-agent limit), agents with warm credentials
// (30 warm token requests a second over 12 clients at first: 2.5/s each,
// under the token service's 10/s per client), and unused credentials for
// the first-use path while the credentials service is down (the load
// creates more as it goes).
const (
	readerAgents = 2
	seedAgents   = 6
	warmPerSeed  = 2
	freshCreds   = 24
)

func setUp(t *testing.T, a *api, admin stack.Admin) fixture {
	t.Helper()
	var f fixture
	var err error
	if f.adminToken, err = tokenEventually(a, admin.ClientID, admin.ClientSecret); err != nil {
		t.Fatalf("admin token: %v", err)
	}
	for i := 0; i < readerAgents+seedAgents; i++ {
		id, cred := f.agentWithCredential(t, a, fmt.Sprintf("chaos-seed-%d", i))
		tok, err := tokenEventually(a, id, cred.secret)
		if err != nil {
			t.Fatalf("seed token: %v", err)
		}
		if i < readerAgents {
			f.readers = append(f.readers, tok)
			continue
		}
		f.agents = append(f.agents, id)
		f.warm = append(f.warm, cred)
		for j := 1; j < warmPerSeed; j++ {
			c := f.credential(t, a, id)
			if _, err := tokenEventually(a, id, c.secret); err != nil {
				t.Fatalf("seed token: %v", err)
			}
			f.warm = append(f.warm, c)
		}
	}
	for i := 0; i < freshCreds; i++ {
		f.fresh = append(f.fresh, f.credential(t, a, f.agents[i%len(f.agents)]))
	}
	return f
}

func (f *fixture) agentWithCredential(t *testing.T, a *api, name string) (string, credential) {
	t.Helper()
	r := a.do("POST", "/v1/agents", f.adminToken, newAgent(name))
	var agent struct {
		AgentID string `json:"agentId"`
	}
	if err := r.json(&agent); err != nil {
		t.Fatalf("register %s: %v", name, err)
	}
	return agent.AgentID, f.credential(t, a, agent.AgentID)
}

func (f *fixture) credential(t *testing.T, a *api, agentID string) credential {
	t.Helper()
	r := a.do("POST", "/v1/agents/"+agentID+"/credentials", f.adminToken, map[string]any{})
	var c struct {
		ClientSecret string `json:"clientSecret"`
		Credential   struct {
			CredentialID string `json:"credentialId"`
		} `json:"credential"`
	}
	if err := r.json(&c); err != nil {
		t.Fatalf("credential for %s: %v", agentID, err)
	}
	return credential{agentID: agentID, credentialID: c.Credential.CredentialID, secret: c.ClientSecret}
}

// tokenEventually gets a token, waiting out the mesh's start-up (set-up
// only: under load every answer counts).
func tokenEventually(a *api, clientID, secret string) (string, error) {
	var tok string
	err := waitFor(30*time.Second, func() error {
		var r reply
		tok, r = a.token(clientID, secret)
		if !r.ok() {
			return fmt.Errorf("token: %s", r)
		}
		return nil
	})
	return tok, err
}
