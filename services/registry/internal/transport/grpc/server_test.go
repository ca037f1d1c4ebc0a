package grpc_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	registryv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/registry/v1"
	"github.com/sentryagent/agentidp/libs/grpcserver"
	"github.com/sentryagent/agentidp/libs/metrics"
	"github.com/sentryagent/agentidp/libs/postgres"
	"github.com/sentryagent/agentidp/libs/testkit"
	"github.com/sentryagent/agentidp/services/registry/internal/agent"
	"github.com/sentryagent/agentidp/services/registry/internal/endpoints"
	pgstore "github.com/sentryagent/agentidp/services/registry/internal/store/postgres"
	grpctransport "github.com/sentryagent/agentidp/services/registry/internal/transport/grpc"
	"github.com/sentryagent/agentidp/services/registry/migrations"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// newClient serves the whole registry stack (real PostgreSQL, the shared
// gRPC server helpers) over an in-memory connection.
func newClient(t *testing.T) registryv1.RegistryServiceClient {
	t.Helper()
	c, _ := newClients(t)
	return c
}

// newClients also returns a client of the event feed.
func newClients(t *testing.T) (registryv1.RegistryServiceClient, registryv1.AgentEventsServiceClient) {
	t.Helper()
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	pool, err := postgres.Open(ctx, postgres.Config{URL: testkit.NewDatabase(t)}, metrics.NewStore(reg))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := postgres.Migrate(ctx, pool, migrations.FS); err != nil {
		t.Fatal(err)
	}
	store := pgstore.New(pool)
	svc := agent.NewService(agent.Config{Store: store})
	listenCtx, stopListening := context.WithCancel(ctx)
	go func() { _ = store.Listen(listenCtx) }()
	t.Cleanup(stopListening)
	srv, _ := grpcserver.New(grpcserver.Config{
		Logger:  slog.New(slog.NewTextHandler(testWriter{t}, nil)),
		Metrics: metrics.NewGRPC(reg),
	})
	registryv1.RegisterRegistryServiceServer(srv, grpctransport.NewServer(endpoints.New(svc)))
	registryv1.RegisterAgentEventsServiceServer(srv, grpctransport.NewEventsServer(store))
	lis := bufconn.Listen(1 << 20)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return registryv1.NewRegistryServiceClient(conn), registryv1.NewAgentEventsServiceClient(conn)
}

func validAgent() *registryv1.Agent {
	return &registryv1.Agent{
		Name: "invoice-bot", Owner: "team-finance", AgentType: "assistant", Version: "1.2.0",
		Capabilities: []string{"invoices.read"}, Scopes: []string{"agents:read"},
		DeploymentEnv: "production", Metadata: map[string]string{"cost-center": "42"},
	}
}

// wantError asserts err's gRPC code, ErrorInfo reason and (if not empty) field.
func wantError(t *testing.T, err error, code codes.Code, reason, field string) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != code {
		t.Fatalf("code = %v (%v), want %v", st.Code(), err, code)
	}
	var info *errdetails.ErrorInfo
	for _, d := range st.Details() {
		if i, ok := d.(*errdetails.ErrorInfo); ok {
			info = i
		}
	}
	if info == nil {
		t.Fatalf("no ErrorInfo in %v", err)
	}
	if info.GetReason() != reason {
		t.Fatalf("reason = %s (%v), want %s", info.GetReason(), err, reason)
	}
	if field != "" && info.GetMetadata()["field"] != field {
		t.Fatalf("field = %q (%v), want %q", info.GetMetadata()["field"], err, field)
	}
}

func create(t *testing.T, c registryv1.RegistryServiceClient, a *registryv1.Agent) *registryv1.Agent {
	t.Helper()
	resp, err := c.CreateAgent(context.Background(), &registryv1.CreateAgentRequest{Agent: a})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	return resp
}

func TestCreateAgent(t *testing.T) {
	c := newClient(t)
	var header metadata.MD
	resp, err := c.CreateAgent(context.Background(), &registryv1.CreateAgentRequest{Agent: validAgent()}, grpc.Header(&header))
	if err != nil {
		t.Fatal(err)
	}
	a := resp
	if len(a.GetAgentId()) != 36 || a.GetStatus() != "active" || a.GetEtag() == "" || a.GetCreatedAt() == nil {
		t.Fatalf("unexpected agent %v", a)
	}
	if got := header.Get(grpctransport.HTTPStatusHeader); len(got) != 1 || got[0] != "201" {
		t.Fatalf("%s = %v, want 201", grpctransport.HTTPStatusHeader, got)
	}
	got, err := c.GetAgent(context.Background(), &registryv1.GetAgentRequest{AgentId: a.GetAgentId()})
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != a.String() {
		t.Fatalf("get = %v\nwant %v", got, a)
	}
}

func TestCreateAgentRejectsBadInput(t *testing.T) {
	c := newClient(t)
	bigMetadata := map[string]string{}
	for i := 0; i < 33; i++ {
		bigMetadata[fmt.Sprintf("k%d", i)] = "v"
	}
	hugeValues := map[string]string{}
	for i := 0; i < 20; i++ {
		hugeValues[fmt.Sprintf("k%d", i)] = strings.Repeat("x", 250)
	}
	tests := []struct {
		name   string
		mutate func(a *registryv1.Agent)
		code   codes.Code
		reason string
		field  string
	}{
		{"missing name", func(a *registryv1.Agent) { a.Name = "  " }, codes.InvalidArgument, "FIELD_REQUIRED", "agent.name"},
		{"missing owner", func(a *registryv1.Agent) { a.Owner = "" }, codes.InvalidArgument, "FIELD_REQUIRED", "agent.owner"},
		{"long name", func(a *registryv1.Agent) { a.Name = strings.Repeat("n", 129) }, codes.InvalidArgument, "FIELD_TOO_LONG", "agent.name"},
		{"control character", func(a *registryv1.Agent) { a.Name = "bad\x00name" }, codes.InvalidArgument, "FIELD_INVALID", "agent.name"},
		{"bad agent type", func(a *registryv1.Agent) { a.AgentType = "Not A Type" }, codes.InvalidArgument, "FIELD_INVALID", "agent.agentType"},
		{"bad scope", func(a *registryv1.Agent) { a.Scopes = []string{"has space"} }, codes.InvalidArgument, "FIELD_INVALID", "agent.scopes"},
		{"too many metadata entries", func(a *registryv1.Agent) { a.Metadata = bigMetadata }, codes.InvalidArgument, "METADATA_TOO_LARGE", "agent.metadata"},
		{"metadata too large", func(a *registryv1.Agent) { a.Metadata = hugeValues }, codes.InvalidArgument, "METADATA_TOO_LARGE", "agent.metadata"},
		{"metadata value too long", func(a *registryv1.Agent) { a.Metadata = map[string]string{"k": strings.Repeat("v", 257)} }, codes.InvalidArgument, "METADATA_TOO_LARGE", "agent.metadata"},
		{"bad metadata key", func(a *registryv1.Agent) { a.Metadata = map[string]string{"bad key": "v"} }, codes.InvalidArgument, "FIELD_INVALID", "agent.metadata"},
		{"born decommissioned", func(a *registryv1.Agent) { a.Status = "decommissioned" }, codes.FailedPrecondition, "INVALID_STATUS_TRANSITION", "agent.status"},
		{"unknown status", func(a *registryv1.Agent) { a.Status = "sleeping" }, codes.InvalidArgument, "FIELD_INVALID", "agent.status"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := validAgent()
			tt.mutate(a)
			_, err := c.CreateAgent(context.Background(), &registryv1.CreateAgentRequest{Agent: a})
			wantError(t, err, tt.code, tt.reason, tt.field)
		})
	}
	// Nothing half-written: no agent exists after all those failures.
	page, err := c.ListAgents(context.Background(), &registryv1.ListAgentsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.GetAgents()) != 0 {
		t.Fatalf("%d agents stored after rejected creates", len(page.GetAgents()))
	}
}

func TestCreateAgentIsIdempotentWithRequestID(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	ids := make([]string, 8)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := c.CreateAgent(ctx, &registryv1.CreateAgentRequest{Agent: validAgent(), RequestId: "req-1"})
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = resp.GetAgentId()
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("one request id created several agents: %v", ids)
		}
	}
}

func TestGetAgentErrors(t *testing.T) {
	c := newClient(t)
	_, err := c.GetAgent(context.Background(), &registryv1.GetAgentRequest{AgentId: "0190f8a0-0000-7000-8000-000000000000"})
	wantError(t, err, codes.NotFound, "AGENT_NOT_FOUND", "")
	_, err = c.GetAgent(context.Background(), &registryv1.GetAgentRequest{AgentId: "not-a-uuid"})
	wantError(t, err, codes.InvalidArgument, "FIELD_INVALID", "agentId")
}

func TestUpdateAgent(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	a := create(t, c, validAgent())

	mask := func(paths ...string) *fieldmaskpb.FieldMask { return &fieldmaskpb.FieldMask{Paths: paths} }
	resp, err := c.UpdateAgent(ctx, &registryv1.UpdateAgentRequest{
		Agent:      &registryv1.Agent{AgentId: a.GetAgentId(), Name: "renamed", Description: "ignored: not in mask", Etag: a.GetEtag()},
		UpdateMask: mask("name"),
	})
	if err != nil {
		t.Fatal(err)
	}
	u := resp
	if u.GetName() != "renamed" || u.GetDescription() != "" || u.GetOwner() != "team-finance" || u.GetEtag() == a.GetEtag() {
		t.Fatalf("unexpected update result %v", u)
	}

	// The etag from before the rename is stale now.
	_, err = c.UpdateAgent(ctx, &registryv1.UpdateAgentRequest{
		Agent: &registryv1.Agent{AgentId: a.GetAgentId(), Name: "again", Etag: a.GetEtag()}, UpdateMask: mask("name"),
	})
	wantError(t, err, codes.Aborted, "ETAG_MISMATCH", "")

	// ... also when it arrives as an If-Match header (REST clients).
	hdr := metadata.AppendToOutgoingContext(ctx, "if-match", `"`+a.GetEtag()+`"`)
	_, err = c.UpdateAgent(hdr, &registryv1.UpdateAgentRequest{
		Agent: &registryv1.Agent{AgentId: a.GetAgentId(), Name: "again"}, UpdateMask: mask("name"),
	})
	wantError(t, err, codes.Aborted, "ETAG_MISMATCH", "")

	_, err = c.UpdateAgent(ctx, &registryv1.UpdateAgentRequest{
		Agent: &registryv1.Agent{AgentId: a.GetAgentId(), Name: "x"}, UpdateMask: mask("name", "favouriteColour"),
	})
	wantError(t, err, codes.InvalidArgument, "INVALID_UPDATE_MASK", "updateMask")

	_, err = c.UpdateAgent(ctx, &registryv1.UpdateAgentRequest{
		Agent: &registryv1.Agent{AgentId: a.GetAgentId()}, UpdateMask: mask("name"),
	})
	wantError(t, err, codes.InvalidArgument, "FIELD_REQUIRED", "agent.name")

	// Suspend, reactivate.
	for _, st := range []string{"suspended", "active", "suspended"} {
		resp, err := c.UpdateAgent(ctx, &registryv1.UpdateAgentRequest{
			Agent: &registryv1.Agent{AgentId: a.GetAgentId(), Status: st}, UpdateMask: mask("status"),
		})
		if err != nil {
			t.Fatalf("status %s: %v", st, err)
		}
		if resp.GetStatus() != st {
			t.Fatalf("status = %s, want %s", resp.GetStatus(), st)
		}
	}

	_, err = c.UpdateAgent(ctx, &registryv1.UpdateAgentRequest{
		Agent: &registryv1.Agent{AgentId: a.GetAgentId(), Status: "decommissioned"}, UpdateMask: mask("status"),
	})
	wantError(t, err, codes.FailedPrecondition, "INVALID_STATUS_TRANSITION", "agent.status")

	_, err = c.UpdateAgent(ctx, &registryv1.UpdateAgentRequest{
		Agent: &registryv1.Agent{AgentId: "0190f8a0-0000-7000-8000-000000000000", Name: "x"}, UpdateMask: mask("name"),
	})
	wantError(t, err, codes.NotFound, "AGENT_NOT_FOUND", "")
}

func TestConcurrentUpdatesWithOneETagLetExactlyOneWin(t *testing.T) {
	c := newClient(t)
	a := create(t, c, validAgent())
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, conflicts := 0, 0
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.UpdateAgent(context.Background(), &registryv1.UpdateAgentRequest{
				Agent:      &registryv1.Agent{AgentId: a.GetAgentId(), Name: fmt.Sprintf("writer-%d", i), Etag: a.GetEtag()},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"name"}},
			})
			mu.Lock()
			defer mu.Unlock()
			switch status.Code(err) {
			case codes.OK:
				wins++
			case codes.Aborted:
				conflicts++
			default:
				t.Errorf("unexpected %v", err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 || conflicts != 9 {
		t.Fatalf("wins=%d conflicts=%d, want 1 and 9", wins, conflicts)
	}
}

func TestDecommissionIsTerminalAndIdempotent(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	a := create(t, c, validAgent())
	first, err := c.DeleteAgent(ctx, &registryv1.DeleteAgentRequest{AgentId: a.GetAgentId()})
	if err != nil {
		t.Fatal(err)
	}
	d := first
	if d.GetStatus() != "decommissioned" || d.GetDecommissionedAt() == nil {
		t.Fatalf("unexpected %v", d)
	}
	second, err := c.DeleteAgent(ctx, &registryv1.DeleteAgentRequest{AgentId: a.GetAgentId(), Etag: "stale-is-fine-now"})
	if err != nil {
		t.Fatalf("second delete: %v", err)
	}
	if second.String() != d.String() {
		t.Fatalf("second delete changed the agent:\n%v\n%v", second, d)
	}
	for _, st := range []string{"active", "suspended"} {
		_, err = c.UpdateAgent(ctx, &registryv1.UpdateAgentRequest{
			Agent: &registryv1.Agent{AgentId: a.GetAgentId(), Status: st}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"status"}},
		})
		wantError(t, err, codes.FailedPrecondition, "AGENT_DECOMMISSIONED", "")
	}
	other := create(t, c, validAgent())
	_, err = c.DeleteAgent(ctx, &registryv1.DeleteAgentRequest{AgentId: other.GetAgentId(), Etag: "999"})
	wantError(t, err, codes.Aborted, "ETAG_MISMATCH", "")
	_, err = c.DeleteAgent(ctx, &registryv1.DeleteAgentRequest{AgentId: "0190f8a0-0000-7000-8000-000000000000"})
	wantError(t, err, codes.NotFound, "AGENT_NOT_FOUND", "")
}

func TestListAgentsPagesEachAgentExactlyOnce(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	want := map[string]bool{}
	for i := 0; i < 250; i++ {
		a := validAgent()
		a.Name = fmt.Sprintf("agent-%03d", i)
		if i%5 == 0 {
			a.Owner = "team-ops"
			a.AgentType = "workflow"
		}
		want[create(t, c, a).GetAgentId()] = true
	}
	seen := map[string]bool{}
	token, pages := "", 0
	for {
		resp, err := c.ListAgents(ctx, &registryv1.ListAgentsRequest{PageSize: proto.Int32(7), PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(resp.GetAgents()) > 7 {
			t.Fatalf("page of %d", len(resp.GetAgents()))
		}
		for _, a := range resp.GetAgents() {
			if seen[a.GetAgentId()] {
				t.Fatalf("agent %s listed twice", a.GetAgentId())
			}
			seen[a.GetAgentId()] = true
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	if len(seen) != len(want) || pages != 36 {
		t.Fatalf("listed %d agents on %d pages, want %d on 36", len(seen), pages, len(want))
	}

	resp, err := c.ListAgents(ctx, &registryv1.ListAgentsRequest{})
	if err != nil || len(resp.GetAgents()) != agent.DefaultPageSize {
		t.Fatalf("default page: %d agents, %v", len(resp.GetAgents()), err)
	}
}

func TestListAgentsFilters(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	for i, spec := range []struct{ name, owner, typ string }{
		{"Alpha Scanner", "alice", "scanner"}, {"beta scanner", "bob", "scanner"},
		{"Gamma", "alice", "assistant"}, {"100% done", "carol", "assistant"},
	} {
		a := validAgent()
		a.Name, a.Owner, a.AgentType = spec.name, spec.owner, spec.typ
		created := create(t, c, a)
		if i == 2 {
			if _, err := c.UpdateAgent(ctx, &registryv1.UpdateAgentRequest{
				Agent: &registryv1.Agent{AgentId: created.GetAgentId(), Status: "suspended"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"status"}},
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name string
		req  *registryv1.ListAgentsRequest
		want []string
	}{
		{"owner", &registryv1.ListAgentsRequest{Owner: "alice"}, []string{"Alpha Scanner", "Gamma"}},
		{"type", &registryv1.ListAgentsRequest{AgentType: "scanner"}, []string{"Alpha Scanner", "beta scanner"}},
		{"status", &registryv1.ListAgentsRequest{Status: "suspended"}, []string{"Gamma"}},
		{"search is case-insensitive", &registryv1.ListAgentsRequest{Search: "SCAN"}, []string{"Alpha Scanner", "beta scanner"}},
		{"search is literal", &registryv1.ListAgentsRequest{Search: "0%"}, []string{"100% done"}},
		{"search underscore is literal", &registryv1.ListAgentsRequest{Search: "_"}, nil},
		{"combined", &registryv1.ListAgentsRequest{Owner: "alice", Status: "active"}, []string{"Alpha Scanner"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := c.ListAgents(ctx, tt.req)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, a := range resp.GetAgents() {
				got = append(got, a.GetName())
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestListAgentsRejectsBadInput(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		create(t, c, validAgent())
	}
	first, err := c.ListAgents(ctx, &registryv1.ListAgentsRequest{PageSize: proto.Int32(1), Owner: "team-finance"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		req    *registryv1.ListAgentsRequest
		reason string
		field  string
	}{
		{"zero page size", &registryv1.ListAgentsRequest{PageSize: proto.Int32(0)}, "INVALID_PAGE_SIZE", "pageSize"},
		{"negative page size", &registryv1.ListAgentsRequest{PageSize: proto.Int32(-1)}, "INVALID_PAGE_SIZE", "pageSize"},
		{"huge page size", &registryv1.ListAgentsRequest{PageSize: proto.Int32(10000)}, "INVALID_PAGE_SIZE", "pageSize"},
		{"garbage token", &registryv1.ListAgentsRequest{PageToken: "garbage!"}, "INVALID_PAGE_TOKEN", "pageToken"},
		{"base64 garbage token", &registryv1.ListAgentsRequest{PageToken: "eyJmb28iOiJiYXIifQ"}, "INVALID_PAGE_TOKEN", "pageToken"},
		{"token for other filters", &registryv1.ListAgentsRequest{PageToken: first.GetNextPageToken(), Owner: "someone-else"}, "INVALID_PAGE_TOKEN", "pageToken"},
		{"unknown status", &registryv1.ListAgentsRequest{Status: "zombie"}, "FIELD_INVALID", "status"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.ListAgents(ctx, tt.req)
			wantError(t, err, codes.InvalidArgument, tt.reason, tt.field)
		})
	}
}

// testWriter sends server logs to the test's log, shown on failure.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
