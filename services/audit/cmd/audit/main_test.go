package main_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/sentryagent/agentidp/libs/auditlog"
	auditv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/audit/v1"
	credentialsv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/credentials/v1"
	registryv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/registry/v1"
	"github.com/sentryagent/agentidp/libs/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

const (
	registryPkg    = "github.com/sentryagent/agentidp/services/registry/cmd/registry"
	credentialsPkg = "github.com/sentryagent/agentidp/services/credentials/cmd/credentials"
	auditPkg       = "github.com/sentryagent/agentidp/services/audit/cmd/audit"
)

func dial(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// retry calls fn until it succeeds or 15s pass (a service may still be
// catching up on a feed).
func retry(t *testing.T, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// listAll pages through the events matching req.
func listAll(t *testing.T, c auditv1.AuditServiceClient, req *auditv1.ListAuditEventsRequest) []*auditv1.AuditEvent {
	t.Helper()
	size := int32(1000)
	req.PageSize = &size
	var out []*auditv1.AuditEvent
	for {
		page, err := c.ListAuditEvents(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page.GetEvents()...)
		if page.GetNextPageToken() == "" {
			return out
		}
		req.PageToken = page.GetNextPageToken()
	}
}

// The acceptance: with the audit service stopped, 100 agents are
// registered (registry binary), 50 credentials rotated (credentials binary)
// and 1,000 tokens issued (events emitted to the Redis stream with
// libs/auditlog, as the token service does); started again, the audit
// service stores every one of those events exactly once, with the right
// actor and outcome. Then it is killed in the middle of ingesting more, and
// still nothing is lost or doubled.
func TestNothingIsLostWhileTheAuditServiceIsDown(t *testing.T) {
	testkit.SkipIfShort(t)
	ctx := context.Background()
	registryBin, credentialsBin, auditBin := testkit.GoBinary(t, registryPkg), testkit.GoBinary(t, credentialsPkg), testkit.GoBinary(t, auditPkg)

	regAddr := testkit.Addr(testkit.MustFreePort(t))
	testkit.StartServer(t, registryBin, regAddr, "DATABASE_URL="+testkit.NewDatabase(t),
		"GRPC_ADDR="+regAddr, "HTTP_ADDR="+testkit.Addr(testkit.MustFreePort(t)))
	credAddr := testkit.Addr(testkit.MustFreePort(t))
	testkit.StartServer(t, credentialsBin, credAddr, "DATABASE_URL="+testkit.NewDatabase(t),
		"GRPC_ADDR="+credAddr, "HTTP_ADDR="+testkit.Addr(testkit.MustFreePort(t)), "REGISTRY_ADDR="+regAddr)
	redisURL := testkit.NewRedisURL(t)
	auditDB := testkit.NewDatabase(t)
	auditAddr, auditHTTP := testkit.Addr(testkit.MustFreePort(t)), testkit.Addr(testkit.MustFreePort(t))
	auditEnv := []string{"DATABASE_URL=" + auditDB, "GRPC_ADDR=" + auditAddr, "HTTP_ADDR=" + auditHTTP,
		"REGISTRY_ADDR=" + regAddr, "CREDENTIALS_ADDR=" + credAddr, "REDIS_URL=" + redisURL,
		"AUDIT_STREAM_CONSUMER=audit-1", "LOG_LEVEL=warn"}
	startAudit := func() *testkit.Server { return testkit.StartServer(t, auditBin, auditAddr, auditEnv...) }

	// The audit service has run before (its database and consumer group
	// exist), and is now stopped.
	startAudit().Stop()

	operator := uuid.NewString()
	call := metadata.AppendToOutgoingContext(ctx, "x-agent-id", operator, "x-request-id", "acceptance",
		"x-agent-owner", "team-audit", "x-agent-scopes", "agents:read agents:write credentials:write")
	registry := registryv1.NewRegistryServiceClient(dial(t, regAddr))
	agents := make([]string, 100)
	for i := range agents {
		a, err := registry.CreateAgent(call, &registryv1.CreateAgentRequest{Agent: &registryv1.Agent{
			Name: fmt.Sprintf("agent-%d", i), Owner: "team-audit", Scopes: []string{"agents:read"}}})
		if err != nil {
			t.Fatal(err)
		}
		agents[i] = a.GetAgentId()
	}
	creds := credentialsv1.NewCredentialsServiceClient(dial(t, credAddr))
	for _, agent := range agents[:50] {
		var issued *credentialsv1.IssuedCredential
		retry(t, "create a credential", func() (err error) {
			issued, err = creds.CreateCredential(call, &credentialsv1.CreateCredentialRequest{AgentId: agent})
			return err
		})
		if _, err := creds.RotateCredential(call, &credentialsv1.RotateCredentialRequest{
			AgentId: agent, CredentialId: issued.GetCredential().GetCredentialId()}); err != nil {
			t.Fatal(err)
		}
	}
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	emitter := auditlog.NewRedisEmitter(rdb, auditlog.RedisOptions{})
	tokens := map[string]string{} // event id → agent
	emitTokens := func(n int, action, outcome string) {
		for i := range n {
			agent := agents[i%len(agents)]
			e := auditlog.Event{ID: auditlog.NewID(), Actor: agent, Action: action, AgentID: agent,
				Target: "token:" + uuid.NewString(), Outcome: outcome, Details: map[string]string{"scope": "agents:read"}}
			if err := emitter.Emit(ctx, e); err != nil {
				t.Fatal(err)
			}
			tokens[e.ID.String()] = agent
		}
	}
	emitTokens(1000, auditlog.ActionTokenIssued, auditlog.OutcomeSuccess)
	emitTokens(20, auditlog.ActionTokenDenied, auditlog.OutcomeDenied)

	audit := startAudit()
	client := auditv1.NewAuditServiceClient(dial(t, auditAddr))
	count := func(action string) int {
		return len(listAll(t, client, &auditv1.ListAuditEventsRequest{Action: action}))
	}
	retry(t, "every event stored", func() error {
		got := [4]int{count(auditlog.ActionAgentRegistered), count(auditlog.ActionCredentialRotated),
			count(auditlog.ActionTokenIssued), count(auditlog.ActionTokenDenied)}
		if got != [4]int{100, 50, 1000, 20} {
			return fmt.Errorf("registered, rotated, issued, denied = %v", got)
		}
		return nil
	})

	registered := listAll(t, client, &auditv1.ListAuditEventsRequest{Action: auditlog.ActionAgentRegistered})
	seen := map[string]bool{}
	for _, e := range registered {
		if e.GetActor() != operator || e.GetOutcome() != "success" || e.GetRequestId() != "acceptance" ||
			e.GetTarget() != "agent:"+e.GetAgentId() || seen[e.GetAgentId()] {
			t.Fatalf("registration event %v (actor want %s)", e, operator)
		}
		seen[e.GetAgentId()] = true
	}
	for _, action := range []string{auditlog.ActionCredentialGenerated, auditlog.ActionCredentialRotated} {
		events := listAll(t, client, &auditv1.ListAuditEventsRequest{Action: action})
		agentsSeen := map[string]bool{}
		for _, e := range events {
			if e.GetActor() != operator || e.GetOutcome() != "success" || !strings.HasPrefix(e.GetTarget(), "credential:") || agentsSeen[e.GetAgentId()] {
				t.Fatalf("%s event %v", action, e)
			}
			agentsSeen[e.GetAgentId()] = true
		}
		if len(agentsSeen) != 50 {
			t.Fatalf("%d %s events", len(agentsSeen), action)
		}
	}
	checkTokens := func() {
		t.Helper()
		got := map[string]bool{}
		for _, action := range []string{auditlog.ActionTokenIssued, auditlog.ActionTokenDenied} {
			for _, e := range listAll(t, client, &auditv1.ListAuditEventsRequest{Action: action}) {
				wantOutcome := map[string]string{auditlog.ActionTokenIssued: "success", auditlog.ActionTokenDenied: "denied"}[action]
				if tokens[e.GetEventId()] != e.GetActor() || got[e.GetEventId()] || e.GetOutcome() != wantOutcome {
					t.Fatalf("token event %v (emitted: %v, seen before: %v)", e, tokens[e.GetEventId()] != "", got[e.GetEventId()])
				}
				got[e.GetEventId()] = true
			}
		}
		if len(got) != len(tokens) {
			t.Fatalf("%d token events stored, %d emitted", len(got), len(tokens))
		}
	}
	checkTokens()

	// Killed while ingesting: restarted, it stores the rest, once each.
	emitTokens(3000, auditlog.ActionTokenIssued, auditlog.OutcomeSuccess)
	time.Sleep(20 * time.Millisecond)
	audit.Kill()
	emitTokens(500, auditlog.ActionTokenIssued, auditlog.OutcomeSuccess)
	if err := emitter.Close(ctx); err != nil {
		t.Fatal(err)
	}
	startAudit()
	retry(t, "every token event stored", func() error {
		if n := count(auditlog.ActionTokenIssued); n != 4500 {
			return fmt.Errorf("%d token.issued events", n)
		}
		return nil
	})
	checkTokens()

	v, err := client.VerifyAuditChain(ctx, &auditv1.VerifyAuditChainRequest{})
	if err != nil || !v.GetOk() || v.GetFromSequence() != 1 {
		t.Fatalf("verify = %v (%v)", v, err)
	}
	// The CLI says the same.
	cmd := exec.Command(auditBin, "verify")
	cmd.Env = []string{"DATABASE_URL=" + auditDB}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"ok": true`) {
		t.Fatalf("audit verify: %v\n%s", err, out)
	}
	// Ingestion is visible in the metrics, by source (this process only
	// ingested the stream).
	resp, err := http.Get("http://" + auditHTTP + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`agentidp_audit_events_ingested_total{source="stream"}`,
		`agentidp_audit_ingest_lag_seconds{source="stream"}`, `agentidp_audit_stream_backlog `} {
		if !strings.Contains(string(body), want) {
			t.Fatalf("metrics lack %s", want)
		}
	}
}
