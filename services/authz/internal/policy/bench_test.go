package policy_test

import (
	"context"
	"testing"

	"github.com/sentryagent/agentidp/libs/accesstoken"
	"github.com/sentryagent/agentidp/services/authz/internal/input"
	"github.com/sentryagent/agentidp/services/authz/internal/policy"
	"github.com/sentryagent/agentidp/services/authz/internal/state"
	"github.com/sentryagent/agentidp/services/authz/internal/token"
)

// BenchmarkEval: the repository policy on an authenticated GET
// /v1/agents/{id}, input built from scratch each time (as Check does).
func BenchmarkEval(b *testing.B) {
	b.ReportAllocs()
	bundle, err := policy.Load(repoPolicies(b))
	if err != nil {
		b.Fatal(err)
	}
	p, err := policy.Compile(context.Background(), bundle, "data.agentidp.authz.decision")
	if err != nil {
		b.Fatal(err)
	}
	id := "0190f8a0-0000-7000-8000-00000000000a"
	entry := token.NewEntry(accesstoken.NewVerified(accesstoken.Claims{Issuer: "http://x", Subject: id, Audience: []string{"agentidp"},
		Expiry: 2e9, IssuedAt: 1e9, ID: "jti", ClientID: id, Scope: "agents:read"}, ""))
	agent := state.NewAgent(id, "active", "team-a", []string{"agents:read"}, 0, 1)
	r := &input.Request{ID: "req-1", Method: "GET", Path: "/v1/agents/0190f8a0-0000-7000-8000-00000000000b",
		Host: "127.0.0.1:8080", Scheme: "http", Protocol: "HTTP/1.1",
		Headers: map[string]string{":authority": "127.0.0.1:8080", ":method": "GET", ":path": "/v1/agents/x",
			"user-agent": "Go-http-client/1.1", "accept-encoding": "gzip", "x-forwarded-proto": "http",
			"x-request-id": "req-1", "authorization": "Bearer x"}}
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		in, _ := input.Build(r, entry.Input, agent.Input, nil)
		d, _, err := p.Eval(ctx, in, false)
		if err != nil || !d.Allowed {
			b.Fatal(d, err)
		}
	}
}

func BenchmarkBuildInput(b *testing.B) {
	b.ReportAllocs()
	id := "0190f8a0-0000-7000-8000-00000000000a"
	entry := token.NewEntry(accesstoken.NewVerified(accesstoken.Claims{Issuer: "http://x", Subject: id, Audience: []string{"agentidp"},
		Expiry: 2e9, IssuedAt: 1e9, ID: "jti", ClientID: id, Scope: "agents:read"}, ""))
	agent := state.NewAgent(id, "active", "team-a", []string{"agents:read"}, 0, 1)
	r := &input.Request{ID: "req-1", Method: "GET", Path: "/v1/agents/0190f8a0-0000-7000-8000-00000000000b",
		Host: "127.0.0.1:8080", Scheme: "http", Protocol: "HTTP/1.1",
		Headers: map[string]string{":authority": "127.0.0.1:8080", ":method": "GET", ":path": "/v1/agents/x",
			"user-agent": "Go-http-client/1.1", "accept-encoding": "gzip", "x-forwarded-proto": "http",
			"x-request-id": "req-1", "authorization": "Bearer x"}}
	for b.Loop() {
		input.Build(r, entry.Input, agent.Input, nil)
	}
}
