package check_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sentryagent/agentidp/libs/accesstoken"
	"github.com/sentryagent/agentidp/services/authz/internal/check"
	"github.com/sentryagent/agentidp/services/authz/internal/input"
	"github.com/sentryagent/agentidp/services/authz/internal/policy"
	"github.com/sentryagent/agentidp/services/authz/internal/state"
	"github.com/sentryagent/agentidp/services/authz/internal/token"
)

// failingPolicy stands in for an evaluation that fails: either it is cut
// short by the check's deadline (slow), or it fails by itself.
type failingPolicy struct{ slow bool }

func (p failingPolicy) Eval(ctx context.Context, _ ast.Value, _ bool) (policy.Decision, bool, error) {
	if p.slow {
		<-ctx.Done()
		return policy.Decision{}, false, fmt.Errorf("eval_cancel_error: %w", ctx.Err())
	}
	return policy.Decision{}, false, errors.New("eval_conflict_error: complete rules must not produce multiple outputs")
}

// TestPolicyErrors: an evaluation cut short by the check's deadline (found
// by the fault-injection suite on an overloaded machine) is a retryable
// 503, not the 500 POLICY_ERROR of a policy that cannot decide.
func TestPolicyErrors(t *testing.T) {
	id := "0190f8a0-0000-7000-8000-00000000000a"
	raw := "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJl"
	for _, tt := range []struct {
		name   string
		slow   bool
		status int
		reason string
	}{
		{"cut short by the deadline", true, 503, check.ReasonUnavailable},
		{"the policy cannot decide", false, 500, check.ReasonPolicyError},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cache := token.NewCache(16, nil)
			entry := token.NewEntry(accesstoken.NewVerified(accesstoken.Claims{Issuer: "http://x", Subject: id, Audience: []string{"agentidp"},
				Expiry: time.Now().Add(time.Hour).Unix(), IssuedAt: time.Now().Unix(), ID: "jti", ClientID: id,
				Scope: "agents:read", CredentialID: "c"}, ""))
			entry.MarkChecked(1)
			cache.Put(token.KeyOf(raw), entry)
			svc := check.New(check.Config{
				Cache: cache, Revocations: liveRevocations{}, Credentials: state.NewStore(0),
				CredentialFeedLive: func() bool { return true },
				Agents:             agents{state.NewAgent(id, "active", "team-a", []string{"agents:read"}, 0, 1)},
				Policy:             failingPolicy{slow: tt.slow}, Limiter: noLimit{}, Ready: func() bool { return true },
				Metrics: check.NewMetrics(prometheus.NewRegistry(), nil), Logger: slog.New(slog.DiscardHandler),
				Timeout: 50 * time.Millisecond,
			})
			res := svc.Check(context.Background(), &input.Request{ID: "r1", Method: "GET", Path: "/v1/agents/" + id,
				Headers: map[string]string{"authorization": "Bearer " + raw}})
			if res.Allowed || res.Status != tt.status || res.Reason != tt.reason {
				t.Fatalf("got allowed=%v %d %s, want %d %s", res.Allowed, res.Status, res.Reason, tt.status, tt.reason)
			}
		})
	}
}
