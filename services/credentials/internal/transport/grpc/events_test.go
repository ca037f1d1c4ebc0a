package grpc_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	credentialsv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/credentials/v1"
	"github.com/sentryagent/agentidp/libs/requestinfo"
	"github.com/sentryagent/agentidp/libs/testkit"
)

// watch collects the feed's events from after into a channel.
func watch(t *testing.T, e *env, after int64) <-chan *credentialsv1.CredentialEvent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	stream, err := e.events.WatchCredentialEvents(ctx, &credentialsv1.WatchCredentialEventsRequest{AfterSequence: after})
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan *credentialsv1.CredentialEvent, 100)
	go func() {
		defer close(ch)
		for {
			resp, err := stream.Recv()
			if err != nil {
				return
			}
			ch <- resp.GetEvent()
		}
	}()
	return ch
}

// next returns the feed's next event.
func next(t *testing.T, ch <-chan *credentialsv1.CredentialEvent, within time.Duration) *credentialsv1.CredentialEvent {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("feed closed")
		}
		return ev
	case <-time.After(within):
		t.Fatalf("no event within %s", within)
		return nil
	}
}

// The change feed carries every committed change, in order, with who asked
// for it: created, rotated, grace_ended (once the grace has passed),
// revoked (by the API, or by the system on decommissioning). Pending and
// rejected operations never appear.
func TestChangeFeed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{vault: testkit.NewVault(t)})
	feed := watch(t, e, 0)
	agentID := e.newAgent()
	ctx := metadata.NewOutgoingContext(context.Background(), metadata.Pairs(
		requestinfo.HeaderAgentID, "admin-agent", requestinfo.HeaderRequestID, "req-42", requestinfo.HeaderForwarded, "203.0.113.7",
		requestinfo.HeaderGateway, "true", requestinfo.HeaderAgentOwner, "team-test", requestinfo.HeaderAgentScopes, "credentials:write"))

	a, err := e.creds.CreateCredential(ctx, &credentialsv1.CreateCredentialRequest{AgentId: agentID})
	if err != nil {
		t.Fatal(err)
	}
	id := a.GetCredential().GetCredentialId()
	b := e.create(agentID, 0)
	if _, err := e.creds.RotateCredential(ctx, &credentialsv1.RotateCredentialRequest{AgentId: agentID, CredentialId: id, GracePeriodSeconds: 1}); err != nil {
		t.Fatal(err)
	}
	// Rejected: nothing in the feed.
	_, _ = e.creds.RotateCredential(ctx, &credentialsv1.RotateCredentialRequest{AgentId: agentID, CredentialId: id, GracePeriodSeconds: -1})

	want := func(typ, credentialID, actor string) *credentialsv1.CredentialEvent {
		t.Helper()
		ev := next(t, feed, 3*time.Second)
		if ev.GetType() != typ || ev.GetCredentialId() != credentialID || ev.GetAgentId() != agentID || ev.GetActor() != actor ||
			ev.GetOwner() != "team-test" {
			t.Fatalf("event %v, want %s of %s by %s", ev, typ, credentialID, actor)
		}
		return ev
	}
	first := want("created", id, "admin-agent")
	if first.GetRequestId() != "req-42" || first.GetSourceAddress() != "203.0.113.7" {
		t.Fatalf("request context %q %q", first.GetRequestId(), first.GetSourceAddress())
	}
	want("created", b.GetCredential().GetCredentialId(), "system")
	rotated := want("rotated", id, "admin-agent")
	graceEnded := want("grace_ended", id, "system")
	if d := graceEnded.GetOccurredAt().AsTime().Sub(rotated.GetOccurredAt().AsTime()); d != time.Second {
		t.Fatalf("grace ended %s after the rotation, want 1s", d)
	}
	if _, err := e.creds.RevokeCredential(ctx, &credentialsv1.RevokeCredentialRequest{AgentId: agentID, CredentialId: id}); err != nil {
		t.Fatal(err)
	}
	want("revoked", id, "admin-agent")
	// A second revoke changes nothing and records nothing.
	_, _ = e.creds.RevokeCredential(ctx, &credentialsv1.RevokeCredentialRequest{AgentId: agentID, CredentialId: id})
	e.setAgentStatus(agentID, "decommissioned")
	want("revoked", b.GetCredential().GetCredentialId(), "system")

	// A watcher from the end (after_sequence < 0) sees only what follows.
	tail := watch(t, e, -1)
	time.Sleep(200 * time.Millisecond) // the stream is open
	c := e.create(e.newAgent(), 0)
	if ev := next(t, tail, 3*time.Second); ev.GetType() != "created" || ev.GetCredentialId() != c.GetCredential().GetCredentialId() {
		t.Fatalf("tail got %v", ev)
	}
	// Sequences strictly increase; the full feed has exactly these events.
	ev := next(t, feed, 3*time.Second)
	if ev.GetCredentialId() != c.GetCredential().GetCredentialId() {
		t.Fatalf("unexpected event %v", ev)
	}
	select {
	case extra := <-feed:
		t.Fatalf("unexpected event %v", extra)
	case <-time.After(300 * time.Millisecond):
	}
}

// Events are committed in sequence order even under concurrent writers:
// a reader never sees sequence n+1 before n.
func TestChangeFeedOrderUnderConcurrency(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	feed := watch(t, e, 0)
	agentID := e.newAgent()
	const n = 30
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := e.creds.CreateCredential(context.Background(), &credentialsv1.CreateCredentialRequest{AgentId: agentID})
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	var last int64
	for range n {
		ev := next(t, feed, 3*time.Second)
		if ev.GetSequence() <= last || ev.GetType() != "created" {
			t.Fatalf("event %v after sequence %d", ev, last)
		}
		last = ev.GetSequence()
	}
}
