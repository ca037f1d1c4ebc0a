package grpc_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sentryagent/agentidp/libs/feed"
	registryv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/registry/v1"
)

// libs/feed against the real feed: every event in order, a handler failure
// retried rather than skipped (with the rest of its batch: at least once),
// and the follower live only once it has caught up with the head the feed
// announced.
func TestFollowRetriesAndResumes(t *testing.T) {
	c, ev := newClients(t)
	for i := 0; i < 3; i++ {
		create(t, c, validAgent())
	}
	var failedOnce, liveInBacklog atomic.Bool
	var mu sync.Mutex
	var seqs []int64 // distinct, in the order first handled
	done := make(chan struct{})
	cursor := &feed.MemoryCursor{}
	follower := feed.New(feed.AgentEvents(ev), cursor, feed.Config{Name: "agents", Logger: slog.New(slog.DiscardHandler)})
	handle := func(_ context.Context, e *registryv1.AgentEvent) error {
		if e.GetSequence() == 2 && !failedOnce.Swap(true) {
			return errors.New("transient failure")
		}
		if e.GetSequence() <= 3 && follower.Live() {
			liveInBacklog.Store(true)
		}
		mu.Lock()
		defer mu.Unlock()
		if n := len(seqs); n > 0 && e.GetSequence() <= seqs[n-1] {
			if !slices.Contains(seqs, e.GetSequence()) {
				t.Errorf("event %d after %v", e.GetSequence(), seqs)
			}
			return nil // a replay of the failed batch
		}
		seqs = append(seqs, e.GetSequence())
		if len(seqs) == 4 {
			close(done)
		}
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = follower.Run(ctx, feed.Each(handle)) }()
	for deadline := time.Now().Add(10 * time.Second); !follower.Live(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("not live after the backlog")
		}
	}
	if liveInBacklog.Load() {
		t.Fatal("live before the backlog was handled")
	}
	create(t, c, validAgent()) // a live event after the backlog
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("handled %v", seqs)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, s := range seqs {
		if s != seqs[0]+int64(i) {
			t.Fatalf("sequences %v: one skipped", seqs)
		}
	}
	if got, _ := cursor.Load(ctx); got != seqs[len(seqs)-1] {
		t.Fatalf("cursor %d, last handled %d", got, seqs[len(seqs)-1])
	}
}
