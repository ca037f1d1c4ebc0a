// Package feed is the one follower of the services' change feeds (a server
// stream of events with increasing sequences: the registry's
// WatchAgentEvents, the credentials service's WatchCredentialEvents): it
// resumes from a persisted cursor, hands events to a handler in batches,
// reconnects with backoff, never skips an event, and says whether it is
// live — caught up with everything the server had when the stream opened.
package feed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"google.golang.org/grpc/metadata"
)

// Event is a feed entry (generated proto messages have GetSequence).
type Event interface{ GetSequence() int64 }

// Stream yields a feed's entries. Generated gRPC client streams fit through
// grpcStream (see AgentEvents, CredentialEvents).
type Stream[E Event] interface {
	// Header blocks until the server's response header arrives; it carries
	// HeadHeader. A nil header means there is none (or the stream failed:
	// Recv says so).
	Header() (metadata.MD, error)
	Recv() (E, error)
}

// Open starts a stream of the events after afterSequence. The stream must
// end when ctx does.
type Open[E Event] func(ctx context.Context, afterSequence int64) (Stream[E], error)

// Cursor persists the sequence of the last event handled (postgres.FeedCursor,
// MemoryCursor, the token service's Redis cursor).
type Cursor interface {
	Load(ctx context.Context) (int64, error)
	Save(ctx context.Context, sequence int64) error
}

// Handler handles a batch of events in feed order. It must be idempotent:
// after a crash the batch since the last saved cursor comes again. An error
// stops progress; the batch is retried after a backoff.
type Handler[E Event] func(ctx context.Context, batch []E) error

// Each makes a batch handler of a handler of one event: events in order,
// stopping at the first error (the whole batch comes again, so the handler
// must be idempotent too).
func Each[E Event](handle func(context.Context, E) error) Handler[E] {
	return func(ctx context.Context, batch []E) error {
		for _, e := range batch {
			if err := handle(ctx, e); err != nil {
				return fmt.Errorf("event %d: %w", e.GetSequence(), err)
			}
		}
		return nil
	}
}

// Config tunes a Follower.
type Config struct {
	// Name identifies the feed in logs and metrics ("agents", "credentials").
	Name string
	// MaxBatch bounds a batch; default 500.
	MaxBatch int
	// Linger is how long to wait for more events once one arrived, to fill
	// a batch; default 0 (take what is already there).
	Linger time.Duration
	// Settle is used only with a server that sends no HeadHeader: its
	// stream counts as caught up once no event arrived for this long.
	// Default 500ms.
	Settle time.Duration
	// OnLive, if set, is called each time the follower becomes live (on
	// the goroutine of Run; it must not block).
	OnLive func()
	Logger *slog.Logger
}

// Follower follows one feed. Its handler is given to Run, not New, so that
// what the handler feeds may itself depend on the follower's liveness (the
// token service's authenticator asks it; its handlers tell the
// authenticator what to forget).
type Follower[E Event] struct {
	open   Open[E]
	cursor Cursor
	cfg    Config
	liveness
}

// New returns a follower of the feed open opens, resuming after cursor.
func New[E Event](open Open[E], cursor Cursor, cfg Config) *Follower[E] {
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 500
	}
	if cfg.Settle <= 0 {
		cfg.Settle = 500 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	f := &Follower[E]{open: open, cursor: cursor, cfg: cfg}
	f.liveness.init(cfg.Name, cfg.Logger, cfg.OnLive)
	return f
}

// Run streams events after the cursor into handle until ctx ends, saving
// the cursor after each handled batch. It returns only when ctx ends. Run
// one Run at a time per follower.
func (f *Follower[E]) Run(ctx context.Context, handle Handler[E]) error {
	var b backoff
	for ctx.Err() == nil {
		progressed, err := f.followOnce(ctx, handle)
		if ctx.Err() != nil {
			return nil
		}
		if progressed {
			b.reset()
		}
		wait := b.next()
		f.cfg.Logger.Warn("event feed interrupted; resuming", "feed", f.cfg.Name, "error", err, "retry_in", wait)
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
	return nil
}

type header struct {
	md  metadata.MD
	err error
}

// followOnce follows one stream until it fails. The stream counts as live
// once the events up to the head its server announced are handled (or,
// without a head, once it has been quiet for Settle); it stops being live
// the moment it fails, including when a batch cannot be handled.
func (f *Follower[E]) followOnce(ctx context.Context, handle Handler[E]) (progressed bool, err error) {
	after, err := f.cursor.Load(ctx)
	if err != nil {
		return false, fmt.Errorf("load cursor: %w", err)
	}
	// The stream is long-lived: no deadline, cancelled with this attempt.
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	id := f.begin()
	defer func() { f.end(id, err) }()
	stream, err := f.open(sctx, after)
	if err != nil {
		return false, err
	}
	heads := make(chan header, 1)
	go func() {
		md, err := stream.Header()
		heads <- header{md, err}
	}()
	events := make(chan E, f.cfg.MaxBatch)
	recvErr := make(chan error, 1)
	go func() {
		for {
			e, err := stream.Recv()
			if err != nil {
				// Not live from this moment, even while a batch is being
				// handled: what follows the failure is unknown.
				f.end(id, err)
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

	// head is where this stream must get to; headKnown once the header
	// said so (or the settle time passed without one).
	var head int64
	headKnown, caughtUp := false, false
	var settle *time.Timer
	var settled <-chan time.Time
	defer func() {
		if settle != nil {
			settle.Stop()
		}
	}()
	check := func() {
		if headKnown && !caughtUp && after >= head {
			caughtUp = true
			f.up(id, head)
		}
	}

	batch := make([]E, 0, f.cfg.MaxBatch)
	for {
		batch = batch[:0]
		select {
		case h := <-heads:
			heads = nil
			if h.err != nil {
				continue // the stream failed; Recv reports it
			}
			if n, ok := HeadOf(h.md); ok {
				head, headKnown = n, true
				check()
			} else {
				settle = time.NewTimer(f.cfg.Settle)
				settled = settle.C
			}
			continue
		case <-settled:
			if len(events) > 0 {
				settle.Reset(f.cfg.Settle)
				continue
			}
			settled = nil
			head, headKnown = after, true
			check()
			continue
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
		if settled != nil {
			settle.Reset(f.cfg.Settle) // quiet means no event for Settle
		}
		var linger <-chan time.Time
		var timer *time.Timer
		if f.cfg.Linger > 0 {
			timer = time.NewTimer(f.cfg.Linger)
			linger = timer.C
		}
	fill:
		for len(batch) < f.cfg.MaxBatch {
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
		if err := f.cursor.Save(ctx, last); err != nil {
			return progressed, fmt.Errorf("save cursor: %w", err)
		}
		after, progressed = last, true
		check()
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
