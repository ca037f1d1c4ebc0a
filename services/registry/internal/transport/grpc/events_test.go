package grpc_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/sentryagent/agentidp/libs/feed"
	registryv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/registry/v1"
)

// collect reads events from the feed until it has n or the timeout passes.
func collect(t *testing.T, ev registryv1.AgentEventsServiceClient, after int64, n int, timeout time.Duration) []*registryv1.AgentEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	stream, err := ev.WatchAgentEvents(ctx, &registryv1.WatchAgentEventsRequest{AfterSequence: after})
	if err != nil {
		t.Fatal(err)
	}
	var out []*registryv1.AgentEvent
	for len(out) < n {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatalf("after %d of %d events: %v", len(out), n, err)
		}
		out = append(out, resp.GetEvent())
	}
	return out
}

func setStatus(t *testing.T, c registryv1.RegistryServiceClient, id, status string) {
	t.Helper()
	if _, err := c.UpdateAgent(context.Background(), &registryv1.UpdateAgentRequest{
		Agent: &registryv1.Agent{AgentId: id, Status: status}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"status"}},
	}); err != nil {
		t.Fatal(err)
	}
}

func TestEventFeedRecordsTheLifecycleInOrder(t *testing.T) {
	c, ev := newClients(t)
	ctx := context.Background()
	a := create(t, c, validAgent())
	if _, err := c.UpdateAgent(ctx, &registryv1.UpdateAgentRequest{
		Agent: &registryv1.Agent{AgentId: a.GetAgentId(), Name: "renamed"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"name"}},
	}); err != nil {
		t.Fatal(err)
	}
	setStatus(t, c, a.GetAgentId(), "suspended")
	setStatus(t, c, a.GetAgentId(), "suspended") // no change, no event
	setStatus(t, c, a.GetAgentId(), "active")
	for i := 0; i < 2; i++ { // the second DELETE changes nothing
		if _, err := c.DeleteAgent(ctx, &registryv1.DeleteAgentRequest{AgentId: a.GetAgentId()}); err != nil {
			t.Fatal(err)
		}
	}
	events := collect(t, ev, 0, 5, 5*time.Second)
	want := []string{"registered", "updated", "suspended", "reactivated", "decommissioned"}
	for i, e := range events {
		if e.GetType() != want[i] || e.GetAgent().GetAgentId() != a.GetAgentId() {
			t.Fatalf("event %d = %s for %s, want %s", i, e.GetType(), e.GetAgent().GetAgentId(), want[i])
		}
		if i > 0 && e.GetSequence() <= events[i-1].GetSequence() {
			t.Fatalf("sequences not increasing: %d then %d", events[i-1].GetSequence(), e.GetSequence())
		}
	}
	if events[4].GetAgent().GetStatus() != "decommissioned" {
		t.Fatalf("agent in event: %v", events[4].GetAgent())
	}
	if e := events[0]; e.GetActor() != "system" {
		t.Fatalf("actor of an anonymous call: %q", e.GetActor())
	}

	// A call through the gateway carries the caller, request id and client:
	// the address Envoy appended to X-Forwarded-For, not what the client
	// wrote before it.
	md := metadata.Pairs("x-agent-id", "0190f8a0-0000-7000-8000-00000000000a", "x-request-id", "req-42", "x-forwarded-for", "10.0.0.1, 203.0.113.7",
		"x-agent-owner", "team-finance", "x-agent-scopes", "agents:read agents:write", "x-agentidp-gateway", "true")
	if _, err := c.CreateAgent(metadata.NewOutgoingContext(ctx, md), &registryv1.CreateAgentRequest{Agent: validAgent()}); err != nil {
		t.Fatal(err)
	}
	last := collect(t, ev, events[4].GetSequence(), 1, 5*time.Second)[0]
	if last.GetActor() != "0190f8a0-0000-7000-8000-00000000000a" || last.GetRequestId() != "req-42" || last.GetSourceAddress() != "203.0.113.7" {
		t.Fatalf("request context: actor %q request %q source %q", last.GetActor(), last.GetRequestId(), last.GetSourceAddress())
	}

	// Resuming from a cursor skips what was handled.
	rest := collect(t, ev, events[2].GetSequence(), 2, 5*time.Second)
	if rest[0].GetType() != "reactivated" {
		t.Fatalf("resumed at %s", rest[0].GetType())
	}
}

func TestEventFeedDeliversLiveEventsPromptly(t *testing.T) {
	c, ev := newClients(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := ev.WatchAgentEvents(ctx, &registryv1.WatchAgentEventsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the watcher is now idle, waiting
	for i := 0; i < 5; i++ {
		start := time.Now()
		create(t, c, validAgent())
		if _, err := stream.Recv(); err != nil {
			t.Fatal(err)
		}
		// Well under the one-second poll: the LISTEN/NOTIFY path works.
		if took := time.Since(start); took > 500*time.Millisecond {
			t.Fatalf("event arrived after %s", took)
		}
	}
}

// Concurrent writers must never let a reader skip an event whose sequence
// committed after a larger one.
func TestEventFeedHasNoGapsUnderConcurrentWrites(t *testing.T) {
	c, ev := newClients(t)
	const writers, each = 8, 10
	total := writers * each
	got := make(chan []*registryv1.AgentEvent, 1)
	go func() { got <- collect(t, ev, 0, total, 30*time.Second) }()
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				a := validAgent()
				a.Name = fmt.Sprintf("w%d-%d", w, i)
				if _, err := c.CreateAgent(context.Background(), &registryv1.CreateAgentRequest{Agent: a}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	events := <-got
	seen := map[string]bool{}
	for i, e := range events {
		if i > 0 && e.GetSequence() <= events[i-1].GetSequence() {
			t.Fatalf("out of order at %d", i)
		}
		seen[e.GetAgent().GetAgentId()] = true
	}
	if len(seen) != total {
		t.Fatalf("%d distinct agents in the feed, want %d", len(seen), total)
	}
}

func TestEventFeedRejectsNegativeCursor(t *testing.T) {
	_, ev := newClients(t)
	stream, err := ev.WatchAgentEvents(context.Background(), &registryv1.WatchAgentEventsRequest{AfterSequence: -1})
	if err == nil {
		_, err = stream.Recv()
	}
	wantError(t, err, codes.InvalidArgument, "FIELD_INVALID", "afterSequence")
}

// TestEventFeedSendsItsHead: before its first event the feed says where it
// ends (libs/feed.HeadHeader), so that a consumer knows when it has caught
// up (authz stays unready until then).
func TestEventFeedSendsItsHead(t *testing.T) {
	c, ev := newClients(t)
	create(t, c, validAgent())
	a := create(t, c, validAgent())
	last := collect(t, ev, 0, 2, 5*time.Second)[1].GetSequence()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, after := range []int64{0, last} {
		stream, err := ev.WatchAgentEvents(ctx, &registryv1.WatchAgentEventsRequest{AfterSequence: after})
		if err != nil {
			t.Fatal(err)
		}
		md, err := stream.Header()
		if err != nil {
			t.Fatal(err)
		}
		if head, ok := feed.HeadOf(md); !ok || head != last {
			t.Fatalf("after %d: head %d (%v), want %d (agent %s)", after, head, ok, last, a.GetAgentId())
		}
	}
}
