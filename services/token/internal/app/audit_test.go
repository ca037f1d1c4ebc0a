package app_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sentryagent/agentidp/libs/auditlog"
	auditv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/audit/v1"
	"github.com/sentryagent/agentidp/libs/redisclient"
)

// testAudit: issued, denied and revoked tokens reach the audit stream
// (libs/auditlog), with ids and never a secret or a token.
func testAudit(t *testing.T, p *platform, srv *tokenServer) {
	agentID := p.agent("agents:read")
	c := p.credential(agentID, 0)
	tok := srv.mustToken(c, "")
	srv.token(client{id: c.id, secret: "agentidp_sk_wrong"}, "")
	srv.post("/oauth2/revoke", url.Values{"token": {tok}}, "Authorization", basicAuth(c), "X-Request-Id", "req-1")

	ctx := context.Background()
	rdb, err := redisclient.Open(ctx, p.redisURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	want := map[string]string{auditlog.ActionTokenIssued: auditlog.OutcomeSuccess,
		auditlog.ActionTokenDenied: auditlog.OutcomeDenied, auditlog.ActionTokenRevoked: auditlog.OutcomeSuccess}
	eventually(t, 3*time.Second, func() error {
		msgs, err := rdb.XRange(ctx, auditlog.DefaultStream, "-", "+").Result()
		if err != nil {
			return err
		}
		seen := map[string]*auditv1.AuditEvent{}
		for _, m := range msgs {
			var e auditv1.AuditEvent
			if err := proto.Unmarshal([]byte(m.Values[auditlog.StreamField].(string)), &e); err != nil {
				return err
			}
			if e.GetAgentId() == agentID {
				seen[e.GetAction()] = &e
			}
		}
		for action, outcome := range want {
			e := seen[action]
			if e == nil {
				return errorf("no %s event for the agent", action)
			}
			if e.GetOutcome() != outcome || e.GetSourceAddress() == "" {
				return errorf("%s: %v", action, e)
			}
			for k, v := range e.GetDetails() {
				if v == c.secret || v == tok {
					t.Fatalf("%s carries a secret or token in %s", action, k)
				}
			}
		}
		if got := seen[auditlog.ActionTokenIssued]; got.GetActor() != agentID || got.GetTarget() == "" || got.GetDetails()["scope"] != "agents:read" {
			return errorf("issued: %v", got)
		}
		if got := seen[auditlog.ActionTokenDenied]; got.GetActor() != "anonymous" || got.GetDetails()["error"] != "invalid_client" {
			return errorf("denied: %v", got)
		}
		if got := seen[auditlog.ActionTokenRevoked]; got.GetRequestId() != "req-1" || got.GetTarget() != seen[auditlog.ActionTokenIssued].GetTarget() {
			return errorf("revoked: %v", got)
		}
		return nil
	})
}
