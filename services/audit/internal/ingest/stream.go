package ingest

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/proto"

	"github.com/sentryagent/agentidp/libs/auditlog"
	auditv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/audit/v1"
	"github.com/sentryagent/agentidp/libs/metrics"
	"github.com/sentryagent/agentidp/services/audit/internal/audit"
)

// StreamConfig tunes the Redis stream consumer; zero values take defaults.
type StreamConfig struct {
	// Stream defaults to auditlog.DefaultStream.
	Stream string
	// Group is the consumer group; default "audit".
	Group string
	// Consumer names this instance in the group. Keep it stable across
	// restarts (the host name): on start the consumer first re-reads the
	// entries it was delivered but never acknowledged.
	Consumer string
	// Batch is the most entries read (and stored in one append) at once;
	// default 1000.
	Batch int
	// Block is how long one read waits for new entries; default 1s.
	Block time.Duration
	// Linger: a read that returns fewer than Batch/10 entries waits this
	// long and reads again before the batch is stored (default 20ms; a
	// negative value turns it off). Each append is a transaction with a few
	// round trips and an index update per event; under a steady trickle
	// (a token service issuing a thousand tokens a second) batches of a
	// handful of events cost the audit service and PostgreSQL several times
	// the CPU per event of batches of dozens. The events wait in Redis,
	// already durable, a little longer.
	Linger time.Duration
	// ClaimIdle: entries delivered to another consumer and not acknowledged
	// for this long are taken over (that consumer crashed); default 30s.
	ClaimIdle time.Duration
	// ClaimEvery is how often to look for such entries; default 10s.
	ClaimEvery time.Duration
	// DeadLetter keeps entries that can never be stored; default
	// Stream + ":dead".
	DeadLetter string
	// Registerer, if set, receives agentidp_audit_stream_backlog.
	Registerer prometheus.Registerer
}

func (c *StreamConfig) defaults() {
	if c.Stream == "" {
		c.Stream = auditlog.DefaultStream
	}
	if c.Group == "" {
		c.Group = "audit"
	}
	if c.Consumer == "" {
		c.Consumer = "audit"
	}
	if c.Batch <= 0 {
		c.Batch = audit.MaxBatch
	}
	if c.Block <= 0 {
		c.Block = time.Second
	}
	if c.Linger == 0 {
		c.Linger = 20 * time.Millisecond
	}
	if c.ClaimIdle <= 0 {
		c.ClaimIdle = 30 * time.Second
	}
	if c.ClaimEvery <= 0 {
		c.ClaimEvery = 10 * time.Second
	}
	if c.DeadLetter == "" {
		c.DeadLetter = c.Stream + ":dead"
	}
}

// ConsumeStream records the Redis stream through a consumer group until ctx
// ends: an entry is acknowledged (XACK) and deleted (XDEL) only after the
// batch holding it is committed, so a crash re-delivers it; the stream thus
// holds only what the audit log has not stored yet.
func (s *Sink) ConsumeStream(ctx context.Context, client *redis.Client, cfg StreamConfig) error {
	cfg.defaults()
	c := &consumer{sink: s, client: client, cfg: cfg, backlog: prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: metrics.Namespace, Name: "audit_stream_backlog",
		Help: "Entries of the audit Redis stream not yet stored (never read, or read and not acknowledged).",
	})}
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(c.backlog)
	}
	return c.run(ctx)
}

type consumer struct {
	sink    *Sink
	client  *redis.Client
	cfg     StreamConfig
	backlog prometheus.Gauge
}

func (c *consumer) run(ctx context.Context) error {
	var b retryDelay
	for ctx.Err() == nil {
		err := c.ensureGroup(ctx)
		if err == nil {
			break
		}
		c.wait(ctx, &b, "create the consumer group", err)
	}
	// Our own pending entries first: delivered before a crash, never acknowledged.
	for ctx.Err() == nil {
		n, err := c.read(ctx, "0", 0)
		if err == nil && n == 0 {
			break
		}
		if err != nil {
			c.wait(ctx, &b, "read own pending entries", err)
		}
	}
	// Reading the next batch overlaps storing the current one: a reader
	// goroutine stays at most one batch ahead. Entries it has read stay
	// pending in the group until stored and acknowledged, so a crash loses
	// nothing.
	rctx, stopReader := context.WithCancel(ctx)
	defer stopReader()
	batches := make(chan fetched, 1)
	go c.prefetch(rctx, batches)
	lastClaim := time.Time{}
	for ctx.Err() == nil {
		if time.Since(lastClaim) >= c.cfg.ClaimEvery {
			if err := c.claim(ctx); err != nil {
				c.wait(ctx, &b, "claim stale entries", err)
				continue
			}
			c.measure(ctx)
			lastClaim = time.Now()
		}
		var f fetched
		select {
		case <-ctx.Done():
			return nil
		case f = <-batches:
		}
		if f.err == nil {
			f.err = c.commit(ctx, f.batch)
		}
		if f.err != nil {
			// The reader does not wait for a failed store: what it read
			// meanwhile is stored next, or re-read as pending after a restart.
			c.wait(ctx, &b, "read", f.err)
			continue
		}
		b.reset()
	}
	return nil
}

type fetched struct {
	batch decoded
	err   error
}

// prefetch reads new entries into out until ctx ends.
func (c *consumer) prefetch(ctx context.Context, out chan<- fetched) {
	for ctx.Err() == nil {
		msgs, err := c.fetch(ctx, ">", c.cfg.Block)
		if err == nil && len(msgs) > 0 && len(msgs) < c.cfg.Batch/10 && c.cfg.Linger > 0 {
			select {
			case <-time.After(c.cfg.Linger):
			case <-ctx.Done():
			}
			// A failed top-up is not this batch's problem: what was read is
			// stored, and the next read meets the error again.
			if more, err := c.fetchN(ctx, ">", 0, c.cfg.Batch-len(msgs)); err == nil {
				msgs = append(msgs, more...)
			}
		}
		if ctx.Err() != nil {
			return
		}
		var batch decoded
		if err == nil {
			batch = c.decode(msgs)
		}
		select {
		case out <- fetched{batch: batch, err: err}:
		case <-ctx.Done():
			return
		}
		if err != nil {
			select { // do not spin on a broken connection
			case <-time.After(100 * time.Millisecond):
			case <-ctx.Done():
			}
		}
	}
}

func (c *consumer) wait(ctx context.Context, b *retryDelay, what string, err error) {
	if ctx.Err() != nil {
		return
	}
	d := b.next()
	c.sink.Logger.Warn("audit stream: "+what+" failed; retrying", "error", err, "retry_in", d)
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// ensureGroup creates the group at the start of the stream, so entries
// written before the audit service first ran are read too.
func (c *consumer) ensureGroup(ctx context.Context) error {
	err := c.client.XGroupCreateMkStream(ctx, c.cfg.Stream, c.cfg.Group, "0").Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return err
	}
	return nil
}

// read reads a batch (id "0": own pending entries; ">": new ones) and
// stores it. It returns how many entries it handled.
func (c *consumer) read(ctx context.Context, id string, block time.Duration) (int, error) {
	msgs, err := c.fetch(ctx, id, block)
	if err != nil {
		return 0, err
	}
	return len(msgs), c.store(ctx, msgs)
}

// fetch reads a batch without storing it.
func (c *consumer) fetch(ctx context.Context, id string, block time.Duration) ([]redis.XMessage, error) {
	return c.fetchN(ctx, id, block, c.cfg.Batch)
}

// fetchN reads at most n entries.
func (c *consumer) fetchN(ctx context.Context, id string, block time.Duration, n int) ([]redis.XMessage, error) {
	args := &redis.XReadGroupArgs{Group: c.cfg.Group, Consumer: c.cfg.Consumer,
		Streams: []string{c.cfg.Stream, id}, Count: int64(n), Block: block}
	if block == 0 {
		args.Block = -1 // no BLOCK argument
	}
	streams, err := c.client.XReadGroup(ctx, args).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil && strings.HasPrefix(err.Error(), "NOGROUP") {
		return nil, c.ensureGroup(ctx)
	}
	if err != nil {
		return nil, err
	}
	var msgs []redis.XMessage
	for _, st := range streams {
		msgs = append(msgs, st.Messages...)
	}
	return msgs, nil
}

// claim takes over entries other consumers left pending for ClaimIdle.
func (c *consumer) claim(ctx context.Context) error {
	start := "0-0"
	for {
		msgs, next, err := c.client.XAutoClaim(ctx, &redis.XAutoClaimArgs{Stream: c.cfg.Stream, Group: c.cfg.Group,
			Consumer: c.cfg.Consumer, MinIdle: c.cfg.ClaimIdle, Start: start, Count: int64(c.cfg.Batch)}).Result()
		if err != nil && strings.HasPrefix(err.Error(), "NOGROUP") {
			return c.ensureGroup(ctx)
		}
		if err != nil {
			return err
		}
		if len(msgs) > 0 {
			c.sink.Logger.Info("audit stream: claimed entries of a stalled consumer", "entries", len(msgs))
			if err := c.store(ctx, msgs); err != nil {
				return err
			}
		}
		if next == "0-0" || next == "" {
			return nil
		}
		start = next
	}
}

// measure updates the backlog gauge (Redis 7: the group's lag plus its
// pending entries).
func (c *consumer) measure(ctx context.Context) {
	groups, err := c.client.XInfoGroups(ctx, c.cfg.Stream).Result()
	if err != nil {
		return
	}
	for _, g := range groups {
		if g.Name == c.cfg.Group {
			c.backlog.Set(float64(max(g.Lag, 0) + g.Pending))
		}
	}
}

// store records the entries' events, then acknowledges and deletes the
// entries. Storing is retried until it succeeds or ctx ends (then nothing
// is acknowledged and the entries come again).
func (c *consumer) store(ctx context.Context, msgs []redis.XMessage) error {
	return c.commit(ctx, c.decode(msgs))
}

// decoded is a batch of entries ready to store: decoding and validation
// need no database, so the prefetcher does them for the next batch while
// the current one is being stored.
type decoded struct {
	ids   []string
	valid []auditlog.Event
	dead  []deadEntry
}

func (c *consumer) decode(msgs []redis.XMessage) decoded {
	d := decoded{ids: make([]string, 0, len(msgs))}
	events := make([]auditlog.Event, 0, len(msgs))
	for _, m := range msgs {
		d.ids = append(d.ids, m.ID)
		raw, ok := m.Values[auditlog.StreamField].(string)
		if !ok {
			// Trimmed (MAXLEN) or deleted before we could read it: nothing left to store.
			if len(m.Values) > 0 {
				d.dead = append(d.dead, deadEntry{id: m.ID, reason: "no " + auditlog.StreamField + " field"})
			}
			continue
		}
		var p auditv1.AuditEvent
		if err := proto.Unmarshal([]byte(raw), &p); err != nil {
			d.dead = append(d.dead, deadEntry{id: m.ID, reason: "not an AuditEvent: " + err.Error(), raw: raw})
			continue
		}
		events = append(events, auditlog.Normalize(auditlog.FromProto(&p)))
	}
	valid, invalid := c.sink.check(audit.SourceStream, events)
	d.valid = valid
	for _, r := range invalid {
		raw, _ := proto.Marshal(auditlog.ToProto(r.event))
		d.dead = append(d.dead, deadEntry{id: r.event.ID.String(), reason: r.err.Error(), raw: string(raw)})
	}
	return d
}

func (c *consumer) commit(ctx context.Context, d decoded) error {
	if len(d.ids) == 0 {
		return nil
	}
	var b retryDelay
	for {
		err := c.sink.recordValid(ctx, audit.SourceStream, d.valid)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.wait(ctx, &b, "store events", err)
	}
	pipe := c.client.Pipeline()
	for _, e := range d.dead {
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: c.cfg.DeadLetter, MaxLen: 100_000, Approx: true,
			Values: []any{"entry", e.id, "reason", e.reason, auditlog.StreamField, e.raw}})
	}
	pipe.XAck(ctx, c.cfg.Stream, c.cfg.Group, d.ids...)
	pipe.XDel(ctx, c.cfg.Stream, d.ids...)
	_, err := pipe.Exec(ctx)
	return err // if this fails the entries come again: stored once, by id
}

type deadEntry struct {
	id, reason, raw string
}

type retryDelay struct{ d time.Duration }

func (b *retryDelay) reset() { b.d = 0 }

func (b *retryDelay) next() time.Duration {
	b.d = min(max(2*b.d, 100*time.Millisecond), 5*time.Second)
	return b.d
}
