package check_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sentryagent/agentidp/libs/accesstoken"
	"github.com/sentryagent/agentidp/libs/ratelimit"
	"github.com/sentryagent/agentidp/services/authz/internal/check"
	"github.com/sentryagent/agentidp/services/authz/internal/input"
	"github.com/sentryagent/agentidp/services/authz/internal/policy"
	"github.com/sentryagent/agentidp/services/authz/internal/state"
	"github.com/sentryagent/agentidp/services/authz/internal/token"
)

// The benchmark's stand-ins for what the hot path finds in memory anyway
// (a cached token, a live revocation channel, a projected agent); the
// policy is the repository's, compiled for real.
type liveRevocations struct{}

func (liveRevocations) Epoch() (uint64, bool)       { return 1, true }
func (liveRevocations) RecentlyRevoked(string) bool { return false }

type noLimit struct{}

func (noLimit) Allow(context.Context, string, ratelimit.Limit) (bool, time.Duration, error) {
	return true, 0, nil
}

type agents struct{ a *state.Agent }

func (g agents) Agent(context.Context, string) (*state.Agent, error) { return g.a, nil }

func repoPolicies(t testing.TB) string {
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return filepath.Join(dir, "policies")
		}
		dir = filepath.Dir(dir)
	}
}

// BenchmarkCheckInMemory is the Check handler's own cost on the hot path
// (token cached and checked, agent projected), without gRPC or a network.
func BenchmarkCheckInMemory(b *testing.B) {
	b.ReportAllocs()
	engine, err := policy.New(context.Background(), policy.Config{Dir: repoPolicies(b), Query: "data.agentidp.authz.decision"})
	if err != nil {
		b.Fatal(err)
	}
	id := "0190f8a0-0000-7000-8000-00000000000a"
	raw := "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJl"
	cache := token.NewCache(1024, nil)
	entry := token.NewEntry(accesstoken.NewVerified(accesstoken.Claims{Issuer: "http://x", Subject: id, Audience: []string{"agentidp"},
		Expiry: time.Now().Add(time.Hour).Unix(), IssuedAt: time.Now().Unix(), ID: "jti", ClientID: id,
		Scope: "agents:read", CredentialID: "c"}, ""))
	entry.MarkChecked(1)
	cache.Put(token.KeyOf(raw), entry)
	svc := check.New(check.Config{
		Cache: cache, Revocations: liveRevocations{}, Credentials: state.NewStore(0),
		CredentialFeedLive: func() bool { return true },
		Agents:             agents{state.NewAgent(id, "active", "team-a", []string{"agents:read"}, 0, 1)},
		Policy:             engine, Limiter: noLimit{}, Ready: func() bool { return true },
		Metrics: check.NewMetrics(prometheus.NewRegistry(), nil),
	})
	r := &input.Request{ID: "7c1e6a58-6b0b-4a8e-9f5e-0d3b1c2a9e47", Method: "GET", Path: "/v1/agents/" + id,
		Host: "127.0.0.1:8080", Scheme: "http", Protocol: "HTTP/1.1",
		Headers: map[string]string{":authority": "127.0.0.1:8080", ":method": "GET", ":path": "/v1/agents/" + id,
			":scheme": "http", "authorization": "Bearer " + raw, "user-agent": "Go-http-client/1.1",
			"accept-encoding": "gzip", "x-forwarded-for": "127.0.0.1", "x-forwarded-proto": "http",
			"x-request-id": "7c1e6a58-6b0b-4a8e-9f5e-0d3b1c2a9e47", "x-envoy-expected-rq-timeout-ms": "5000"}}
	ctx := context.Background()
	for b.Loop() {
		if res := svc.Check(ctx, r); !res.Allowed {
			b.Fatalf("%+v", res)
		}
	}
}

func BenchmarkEvalOnly(b *testing.B) {
	b.ReportAllocs()
	engine, _ := policy.New(context.Background(), policy.Config{Dir: repoPolicies(b), Query: "data.agentidp.authz.decision"})
	id := "0190f8a0-0000-7000-8000-00000000000a"
	entry := token.NewEntry(accesstoken.NewVerified(accesstoken.Claims{Issuer: "http://x", Subject: id, Audience: []string{"agentidp"},
		Expiry: time.Now().Add(time.Hour).Unix(), IssuedAt: time.Now().Unix(), ID: "jti", ClientID: id,
		Scope: "agents:read", CredentialID: "c"}, ""))
	ag := state.NewAgent(id, "active", "team-a", []string{"agents:read"}, 0, 1)
	r := &input.Request{ID: "7c1e6a58-6b0b-4a8e-9f5e-0d3b1c2a9e47", Method: "GET", Path: "/v1/agents/" + id,
		Host: "127.0.0.1:8080", Scheme: "http", Protocol: "HTTP/1.1",
		Headers: map[string]string{":authority": "127.0.0.1:8080", ":method": "GET", ":path": "/v1/agents/" + id,
			":scheme": "http", "user-agent": "Go-http-client/1.1",
			"accept-encoding": "gzip", "x-forwarded-for": "127.0.0.1", "x-forwarded-proto": "http",
			"x-request-id": "7c1e6a58-6b0b-4a8e-9f5e-0d3b1c2a9e47", "x-envoy-expected-rq-timeout-ms": "5000"}}
	for b.Loop() {
		in, _ := input.Build(r, entry.Input, ag.Input, nil)
		engine.Eval(context.Background(), in, false)
	}
}
