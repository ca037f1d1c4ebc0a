package auditlog

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/proto"

	"github.com/sentryagent/agentidp/libs/metrics"
)

// The Redis stream the audit service consumes, and the field of each entry
// that holds the event (a protobuf-encoded agentidp.audit.v1.AuditEvent).
const (
	DefaultStream = "agentidp:audit"
	StreamField   = "event"
)

// Errors of Emit.
var (
	// ErrQueueFull: Redis has been unreachable (or too slow) for long enough
	// that the bounded buffer filled up; the event was dropped.
	ErrQueueFull = errors.New("auditlog: buffer full, event dropped")
	ErrClosed    = errors.New("auditlog: emitter closed")
)

// RedisOptions tunes a RedisEmitter; zero values take the defaults.
type RedisOptions struct {
	// Stream defaults to DefaultStream.
	Stream string
	// MaxLen caps the stream (XADD MAXLEN ~), so that a long audit outage
	// cannot fill Redis' memory; entries beyond it are trimmed, oldest
	// first, consumed or not. Default 1,000,000; negative means no cap.
	MaxLen int64
	// QueueSize bounds the events waiting for Redis in this process.
	// Default 10,000.
	QueueSize int
	// MaxBatch is the most events written in one pipeline. Default 256.
	MaxBatch int
	// WaitFor is the most Emit waits for Redis to store the event. Default
	// 25ms. After it the event stays queued and Emit returns nil.
	WaitFor time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Registerer, if set, receives agentidp_audit_emitted_total{result}.
	Registerer prometheus.Registerer
}

// RedisEmitter hands audit events to the durable Redis stream that the audit
// service consumes (XADD). Concurrent Emits are written together in one
// pipeline (group commit), so the cost per event is a fraction of a round
// trip. Emit waits at most WaitFor for Redis; if Redis is slow or down the
// event waits in a bounded in-process buffer and is retried until Close.
// The trade-off, documented in docs/audit.md: the caller's hot path never
// blocks for more than WaitFor, at the price that events still buffered
// when the process dies are lost (the buffer is only used while Redis does
// not answer in time).
type RedisEmitter struct {
	client  redis.Cmdable
	opts    RedisOptions
	queue   chan *pending
	stop    chan struct{}
	abandon chan struct{} // Close's deadline passed: stop retrying
	done    chan struct{}
	once    sync.Once
	mu      sync.RWMutex
	closed  bool
	emitted *prometheus.CounterVec
}

type pending struct {
	payload []byte
	done    chan error
}

// NewRedisEmitter starts the emitter's writer. Call Close on shutdown.
func NewRedisEmitter(client redis.Cmdable, opts RedisOptions) *RedisEmitter {
	if opts.Stream == "" {
		opts.Stream = DefaultStream
	}
	if opts.MaxLen == 0 {
		opts.MaxLen = 1_000_000
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 10_000
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 256
	}
	if opts.WaitFor <= 0 {
		opts.WaitFor = 25 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	e := &RedisEmitter{
		client: client, opts: opts,
		queue: make(chan *pending, opts.QueueSize),
		stop:  make(chan struct{}), abandon: make(chan struct{}), done: make(chan struct{}),
		emitted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Name: "audit_emitted_total",
			Help: "Audit events handed to the Redis stream: stored (acknowledged in time), deferred (buffered, Redis slow), dropped (buffer full or closed).",
		}, []string{"result"}),
	}
	if opts.Registerer != nil {
		if err := opts.Registerer.Register(e.emitted); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				e.emitted = are.ExistingCollector.(*prometheus.CounterVec)
			}
		}
	}
	go e.run()
	return e
}

// Emit records e: it sets ID and OccurredAt when they are empty, normalises
// it (see Normalize) and validates it. It returns nil once Redis stored the
// event or, if Redis did not answer within WaitFor, once it is buffered for
// retry; ErrQueueFull if the buffer is full; a validation error (an
// *apierror.Error) for an event that can never be stored.
func (e *RedisEmitter) Emit(ctx context.Context, ev Event) error {
	if ev.ID == uuid.Nil {
		ev.ID = NewID()
	}
	if ev.OccurredAt.IsZero() {
		ev.OccurredAt = time.Now()
	}
	ev = Normalize(ev)
	if err := ev.Validate(); err != nil {
		return err
	}
	payload, err := proto.Marshal(ToProto(ev))
	if err != nil {
		return err
	}
	p := &pending{payload: payload, done: make(chan error, 1)}
	e.mu.RLock()
	if e.closed {
		e.mu.RUnlock()
		e.emitted.WithLabelValues("dropped").Inc()
		return ErrClosed
	}
	select {
	case e.queue <- p:
		e.mu.RUnlock()
	default:
		e.mu.RUnlock()
		e.emitted.WithLabelValues("dropped").Inc()
		return ErrQueueFull
	}
	t := time.NewTimer(e.opts.WaitFor)
	defer t.Stop()
	select {
	case err := <-p.done:
		if err != nil { // only when Close gave up on it
			e.emitted.WithLabelValues("dropped").Inc()
			return err
		}
		e.emitted.WithLabelValues("stored").Inc()
	case <-t.C:
		e.emitted.WithLabelValues("deferred").Inc()
	case <-ctx.Done():
		e.emitted.WithLabelValues("deferred").Inc()
	}
	return nil
}

// Close stops accepting events and writes those still buffered, giving up
// when ctx ends (the rest are lost and reported in the error).
func (e *RedisEmitter) Close(ctx context.Context) error {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	e.once.Do(func() { close(e.stop) })
	select {
	case <-e.done:
		return nil
	case <-ctx.Done():
		close(e.abandon)
		<-e.done
		return errors.New("auditlog: closed before every buffered event was written")
	}
}

// run writes batches until Close, retrying a failed batch with backoff.
func (e *RedisEmitter) run() {
	defer close(e.done)
	batch := make([]*pending, 0, e.opts.MaxBatch)
	backoff := time.Duration(0)
	for {
		batch = batch[:0]
		select {
		case p := <-e.queue:
			batch = append(batch, p)
		case <-e.stop:
			// Closed: drain what is left, then finish.
			select {
			case p := <-e.queue:
				batch = append(batch, p)
			default:
				return
			}
		}
	fill:
		for len(batch) < e.opts.MaxBatch {
			select {
			case p := <-e.queue:
				batch = append(batch, p)
			default:
				break fill
			}
		}
		for {
			err := e.write(batch)
			if err == nil {
				backoff = 0
				for _, p := range batch {
					p.done <- nil
				}
				break
			}
			backoff = min(max(2*backoff, 10*time.Millisecond), time.Second)
			e.opts.Logger.Warn("audit stream unavailable; retrying", "events", len(batch), "error", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
			case <-e.abandon:
				e.giveUp(batch)
				return
			}
		}
	}
}

// giveUp fails batch and everything still queued.
func (e *RedisEmitter) giveUp(batch []*pending) {
	for _, p := range batch {
		p.done <- ErrClosed
	}
	for {
		select {
		case p := <-e.queue:
			p.done <- ErrClosed
		default:
			return
		}
	}
}

// write pipelines one XADD per event. A pipeline that fails part-way is
// retried whole: the audit service drops the duplicates by event id.
func (e *RedisEmitter) write(batch []*pending) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	pipe := e.client.Pipeline()
	for _, p := range batch {
		args := &redis.XAddArgs{Stream: e.opts.Stream, Values: []any{StreamField, p.payload}}
		if e.opts.MaxLen > 0 {
			args.MaxLen, args.Approx = e.opts.MaxLen, true
		}
		pipe.XAdd(ctx, args)
	}
	_, err := pipe.Exec(ctx)
	return err
}
