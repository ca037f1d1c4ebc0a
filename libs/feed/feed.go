// Package feed follows a service's change feed (a server stream of events
// with increasing sequences: the registry's WatchAgentEvents, the
// credentials service's WatchCredentialEvents, ...) in batches: it resumes
// from a persisted cursor, reconnects with backoff, and never skips an event.
// It generalises libs/agentevents to any feed and to batch handlers.
package feed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// Event is a feed entry (generated proto messages have GetSequence).
type Event interface{ GetSequence() int64 }

// Stream yields a feed's entries; generated gRPC client streams fit through
// a one-line adapter that unwraps the response message.
type Stream[E Event] interface {
	Recv() (E, error)
}

// Open starts a stream of the events after afterSequence. The stream must
// end when ctx does.
type Open[E Event] func(ctx context.Context, afterSequence int64) (Stream[E], error)

// Cursor persists the sequence of the last event handled
// (agentevents.PostgresCursor is one).
type Cursor interface {
	Load(ctx context.Context) (int64, error)
	Save(ctx context.Context, sequence int64) error
}

// Handler handles a batch of events in feed order. It must be idempotent:
// after a crash the batch since the last saved cursor comes again. An error
// stops progress; the batch is retried after a backoff.
type Handler[E Event] func(ctx context.Context, batch []E) error

// Config tunes Follow.
type Config struct {
	// Name identifies the feed in logs.
	Name string
	// MaxBatch bounds a batch; default 500.
	MaxBatch int
	// Linger is how long to wait for more events once one arrived, to fill
	// a batch; default 0 (take what is already there).
	Linger time.Duration
	Logger *slog.Logger
}

// Follow streams events after the cursor into handle until ctx ends, saving
// the cursor after each handled batch. It returns only when ctx ends.
func Follow[E Event](ctx context.Context, open Open[E], cursor Cursor, handle Handler[E], cfg Config) error {
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 500
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	var b backoff
	for ctx.Err() == nil {
		progressed, err := followOnce(ctx, open, cursor, handle, cfg)
		if ctx.Err() != nil {
			return nil
		}
		if progressed {
			b.reset()
		}
		wait := b.next()
		cfg.Logger.Warn("event feed interrupted; resuming", "feed", cfg.Name, "error", err, "retry_in", wait)
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
	return nil
}

func followOnce[E Event](ctx context.Context, open Open[E], cursor Cursor, handle Handler[E], cfg Config) (progressed bool, err error) {
	after, err := cursor.Load(ctx)
	if err != nil {
		return false, fmt.Errorf("load cursor: %w", err)
	}
	// The stream is long-lived: no deadline, cancelled with this attempt.
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := open(sctx, after)
	if err != nil {
		return false, err
	}
	events := make(chan E, cfg.MaxBatch)
	recvErr := make(chan error, 1)
	go func() {
		for {
			e, err := stream.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			select {
			case events <- e:
			case <-sctx.Done():
				return
			}
		}
	}()
	batch := make([]E, 0, cfg.MaxBatch)
	for {
		batch = batch[:0]
		select {
		case e := <-events:
			batch = append(batch, e)
		case err := <-recvErr:
			if errors.Is(err, io.EOF) {
				err = errors.New("the server closed the feed")
			}
			return progressed, err
		case <-ctx.Done():
			return progressed, ctx.Err()
		}
		var linger <-chan time.Time
		var timer *time.Timer
		if cfg.Linger > 0 {
			timer = time.NewTimer(cfg.Linger)
			linger = timer.C
		}
	fill:
		for len(batch) < cfg.MaxBatch {
			select {
			case e := <-events:
				batch = append(batch, e)
			default:
				if linger == nil {
					break fill
				}
				select {
				case e := <-events:
					batch = append(batch, e)
				case <-linger:
					break fill
				case <-ctx.Done():
					break fill
				}
			}
		}
		if timer != nil {
			timer.Stop()
		}
		// Drop replays (a server may resend after a reconnect).
		fresh := batch[:0]
		last := after
		for _, e := range batch {
			if e.GetSequence() > last {
				fresh = append(fresh, e)
				last = e.GetSequence()
			}
		}
		if len(fresh) == 0 {
			continue
		}
		if err := handle(ctx, fresh); err != nil {
			return progressed, fmt.Errorf("handle events %d..%d: %w", fresh[0].GetSequence(), last, err)
		}
		if err := cursor.Save(ctx, last); err != nil {
			return progressed, fmt.Errorf("save cursor: %w", err)
		}
		after, progressed = last, true
	}
}

type backoff struct{ d time.Duration }

func (b *backoff) reset() { b.d = 0 }

func (b *backoff) next() time.Duration {
	switch {
	case b.d == 0:
		b.d = 100 * time.Millisecond
	case b.d < 5*time.Second:
		b.d *= 2
	}
	return b.d
}
