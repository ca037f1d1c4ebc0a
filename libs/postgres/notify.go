package postgres

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Notifications wakes the readers of an outbox table (a change feed) when a
// writer commits: the writer runs pg_notify(Channel, …) in its transaction,
// Listen holds one pooled connection in LISTEN Channel, and every Wait in
// progress returns at the next notification. A broken LISTEN connection is
// re-established each second; waiters fall back to their maxWait meanwhile,
// so a lost notification delays a reader, never strands it.
type Notifications struct {
	Pool    *pgxpool.Pool
	Channel string // an SQL identifier chosen by the service, never input

	mu sync.Mutex
	ch chan struct{}
	// broken counts LISTEN connections that failed (tests and debugging).
	broken atomic.Int64
}

// Wait returns at the next notification, after maxWait, or when ctx ends.
func (n *Notifications) Wait(ctx context.Context, maxWait time.Duration) {
	ch := n.waiters()
	t := time.NewTimer(maxWait)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	case <-ctx.Done():
	}
}

// Listen serves notifications until ctx ends; it always returns nil.
func (n *Notifications) Listen(ctx context.Context) error {
	for ctx.Err() == nil {
		if err := n.listenOnce(ctx); err != nil && ctx.Err() == nil {
			n.broken.Add(1)
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	return nil
}

// Broken reports how many LISTEN connections have failed so far.
func (n *Notifications) Broken() int64 { return n.broken.Load() }

func (n *Notifications) listenOnce(ctx context.Context) error {
	conn, err := n.Pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "LISTEN "+n.Channel); err != nil {
		return err
	}
	defer func() {
		// The connection returns to the pool: stop listening on it.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, _ = conn.Exec(ctx, "UNLISTEN *")
	}()
	n.wake() // catch up on anything missed while not listening
	for {
		if _, err := conn.Conn().WaitForNotification(ctx); err != nil {
			return err
		}
		n.wake()
	}
}

// waiters returns the channel the current waiters share.
func (n *Notifications) waiters() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch == nil {
		n.ch = make(chan struct{})
	}
	return n.ch
}

// wake releases every current waiter at once.
func (n *Notifications) wake() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch != nil {
		close(n.ch)
		n.ch = nil
	}
}
