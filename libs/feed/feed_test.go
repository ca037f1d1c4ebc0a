package feed_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/sentryagent/agentidp/libs/feed"
)

type ev int64

func (e ev) GetSequence() int64 { return int64(e) }

// memFeed serves sequences 1..n, then blocks; failAt breaks the stream
// once, after sending that sequence.
type memFeed struct {
	n      int64
	mu     sync.Mutex
	failAt int64
	opens  []int64
}

type memStream struct {
	f        *memFeed
	next     int64
	ctx      context.Context
	replayed bool
}

// Header: an in-memory feed announces no head.
func (s *memStream) Header() (metadata.MD, error) { return nil, nil }

func (s *memStream) Recv() (ev, error) {
	s.f.mu.Lock()
	fail := s.f.failAt
	s.f.mu.Unlock()
	if fail != 0 && s.next == fail+1 {
		s.f.mu.Lock()
		s.f.failAt = 0
		s.f.mu.Unlock()
		return 0, io.EOF
	}
	if s.next > s.f.n {
		<-s.ctx.Done()
		return 0, s.ctx.Err()
	}
	if s.next == 3 && !s.replayed { // a replay of an old sequence, as after a reconnect
		s.replayed = true
		return ev(1), nil
	}
	s.next++
	return ev(s.next - 1), nil
}

func TestFollowDeliversEverySequenceOnceInOrderInBatches(t *testing.T) {
	f := &memFeed{n: 1000, failAt: 400}
	open := func(ctx context.Context, after int64) (feed.Stream[ev], error) {
		f.mu.Lock()
		f.opens = append(f.opens, after)
		f.mu.Unlock()
		return &memStream{f: f, next: after + 1, ctx: ctx}, nil
	}
	cursor := &feed.MemoryCursor{}
	var mu sync.Mutex
	var got []int64
	batches, failed := 0, false
	handle := func(_ context.Context, batch []ev) error {
		mu.Lock()
		defer mu.Unlock()
		if !failed && batch[0] > 600 {
			failed = true
			return errors.New("storage hiccup") // retried from the cursor
		}
		batches++
		for _, e := range batch {
			got = append(got, int64(e))
		}
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		f := feed.New(open, cursor, feed.Config{MaxBatch: 100, Linger: time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
		_ = f.Run(ctx, handle)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if s, _ := cursor.Load(ctx); s == 1000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cursor stuck; handled %d", len(got))
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1000 {
		t.Fatalf("handled %d events", len(got))
	}
	for i, s := range got {
		if s != int64(i+1) {
			t.Fatalf("event %d has sequence %d", i, s)
		}
	}
	if batches >= 1000/2 {
		t.Fatalf("%d batches for 1000 events: not batching", batches)
	}
	if len(f.opens) < 3 || f.opens[0] != 0 {
		t.Fatalf("opens %v: want a resume after the broken stream and after the failed batch", f.opens)
	}
}
