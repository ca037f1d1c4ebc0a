package grpc_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sentryagent/agentidp/libs/agentevents"
	registryv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/registry/v1"
)

type memCursor struct {
	mu  sync.Mutex
	seq int64
}

func (c *memCursor) Load(context.Context) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seq, nil
}

func (c *memCursor) Save(_ context.Context, s int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq = s
	return nil
}

// libs/agentevents against the real feed: every event once, in order, and a
// handler failure is retried rather than skipped.
func TestFollowRetriesAndResumes(t *testing.T) {
	c, ev := newClients(t)
	for i := 0; i < 3; i++ {
		create(t, c, validAgent())
	}
	var failedOnce atomic.Bool
	var mu sync.Mutex
	var seqs []int64
	done := make(chan struct{})
	handle := func(_ context.Context, e *registryv1.AgentEvent) error {
		if e.GetSequence() == 2 && !failedOnce.Swap(true) {
			return errors.New("transient failure")
		}
		mu.Lock()
		defer mu.Unlock()
		seqs = append(seqs, e.GetSequence())
		if len(seqs) == 4 {
			close(done)
		}
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cursor := &memCursor{}
	go func() { _ = agentevents.Follow(ctx, ev, cursor, handle, slog.New(slog.DiscardHandler)) }()
	time.Sleep(300 * time.Millisecond)
	create(t, c, validAgent()) // a live event after the backlog
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("handled %v", seqs)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, s := range seqs {
		if i > 0 && s <= seqs[i-1] {
			t.Fatalf("sequences %v", seqs)
		}
	}
	if got, _ := cursor.Load(ctx); got != seqs[len(seqs)-1] {
		t.Fatalf("cursor %d, last handled %d", got, seqs[len(seqs)-1])
	}
}
