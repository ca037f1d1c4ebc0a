package checkpoint

import (
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sentryagent/agentidp/libs/metrics"
	"github.com/sentryagent/agentidp/services/audit/internal/audit"
)

// Store is what the checkpointer needs of the log.
type Store interface {
	audit.ChainReader
	InsertCheckpoint(ctx context.Context, c audit.Checkpoint) error
	AllCheckpoints(ctx context.Context) ([]audit.Checkpoint, error)
}

// Config configures a Checkpointer.
type Config struct {
	Store  Store
	Signer audit.Signer
	// Sink, if set, receives every checkpoint too (AUDIT_CHECKPOINT_DIR).
	Sink *FileSink
	// Events: a checkpoint once the head is this many events past the last
	// one (AUDIT_CHECKPOINT_EVENTS).
	Events int64
	// Interval: a checkpoint at least this often while events arrive
	// (AUDIT_CHECKPOINT_INTERVAL).
	Interval time.Duration
	// Poll is how often the head is read; default min(1s, Interval).
	Poll       time.Duration
	Now        func() time.Time
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Checkpointer signs the chain's head every Events events or Interval,
// whichever comes first, after checking that the chain still extends the
// last checkpoint it trusts: it never signs a chain that was rewritten
// under it (it logs the break and counts result="refused" instead).
type Checkpointer struct {
	cfg     Config
	results *prometheus.CounterVec
	through prometheus.Gauge

	mu   sync.Mutex
	last *audit.Checkpoint // the newest checkpoint known to hold
}

// New returns a Checkpointer.
func New(cfg Config) *Checkpointer {
	if cfg.Events <= 0 {
		cfg.Events = 10000
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Minute
	}
	if cfg.Poll <= 0 {
		cfg.Poll = min(time.Second, cfg.Interval)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	c := &Checkpointer{cfg: cfg,
		results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Name: "audit_checkpoints_total",
			Help: "Chain checkpoints, by result: signed, refused (the chain no longer extends the last checkpoint), failed (signing or storing failed).",
		}, []string{"result"}),
		through: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: metrics.Namespace, Name: "audit_checkpoint_sequence",
			Help: "The sequence of the newest signed checkpoint.",
		}),
	}
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(c.results, c.through)
	}
	return c
}

// Run checkpoints until ctx ends, and once more on the way out.
func (c *Checkpointer) Run(ctx context.Context) error {
	t := time.NewTicker(c.cfg.Poll)
	defer t.Stop()
	for {
		if _, err := c.Once(ctx, false); err != nil && ctx.Err() == nil {
			c.cfg.Logger.Error("audit checkpoint failed", "error", err)
		}
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if _, err := c.Once(final, true); err != nil {
				c.cfg.Logger.Error("audit checkpoint at shutdown failed", "error", err)
			}
			cancel()
			return nil
		case <-t.C:
		}
	}
}

// ErrRefused: the stored chain no longer extends the last checkpoint.
var ErrRefused = errors.New("the audit chain no longer extends the last signed checkpoint: not signing it")

// Once signs the head if it is due (force: whenever it moved). It returns
// the new checkpoint, or nil when none was due.
func (c *Checkpointer) Once(ctx context.Context, force bool) (*audit.Checkpoint, error) {
	last, err := c.lastCheckpoint(ctx)
	if err != nil {
		return nil, err
	}
	head, err := c.cfg.Store.Head(ctx)
	if err != nil {
		return nil, err
	}
	now := c.cfg.Now()
	var lastSeq int64
	var lastAt time.Time
	if last != nil {
		lastSeq, lastAt = last.Sequence, last.SignedAt
	}
	if head.Sequence <= lastSeq {
		return nil, nil // nothing new (or the head moved back: verify reports it)
	}
	due := force || head.Sequence-lastSeq >= c.cfg.Events || now.Sub(lastAt) >= c.cfg.Interval
	if !due {
		return nil, nil
	}
	// The chain from the last checkpoint to the head must hold, and pass
	// through the last checkpoint's hash: a head is signed only if it
	// extends what was signed before.
	r := audit.Range{To: &head.Sequence}
	var cps []audit.Checkpoint
	var keys audit.PublicKeys
	if last != nil {
		from := max(1, last.Sequence)
		r.From = &from
		cps = []audit.Checkpoint{*last}
		if keys, err = c.cfg.Signer.PublicKeys(ctx); err != nil {
			return nil, err
		}
	}
	v, err := audit.VerifyWith(ctx, c.cfg.Store, r, cps, keys)
	if err != nil {
		return nil, err
	}
	if !v.OK || v.To != head.Sequence {
		c.results.WithLabelValues("refused").Inc()
		b := v.Break
		if b == nil {
			b = &audit.Break{Kind: "none", Sequence: v.To}
		}
		c.cfg.Logger.Error(ErrRefused.Error(), "last_checkpoint", lastSeq, "head", head.Sequence,
			"break", b.Kind, "break_sequence", b.Sequence)
		return nil, fmt.Errorf("%w (%s at sequence %d)", ErrRefused, b.Kind, b.Sequence)
	}
	cp, err := audit.SignCheckpoint(ctx, c.cfg.Signer, head.Sequence, head.Hash, now)
	if err != nil {
		c.results.WithLabelValues("failed").Inc()
		return nil, err
	}
	// The sink first: it is the copy a database insider cannot reach.
	if c.cfg.Sink != nil {
		if err := c.cfg.Sink.Append(cp); err != nil {
			c.results.WithLabelValues("failed").Inc()
			return nil, err
		}
	}
	if err := c.cfg.Store.InsertCheckpoint(ctx, cp); err != nil {
		c.results.WithLabelValues("failed").Inc()
		return nil, err
	}
	c.mu.Lock()
	c.last = &cp
	c.mu.Unlock()
	c.results.WithLabelValues("signed").Inc()
	c.through.Set(float64(cp.Sequence))
	c.cfg.Logger.Info("audit checkpoint signed", "sequence", cp.Sequence, "hash", hex.EncodeToString(cp.Hash), "key_id", cp.KeyID)
	return &cp, nil
}

// lastCheckpoint is the newest checkpoint that this process signed, or at
// start the newest validly signed one in the sink or the database.
func (c *Checkpointer) lastCheckpoint(ctx context.Context) (*audit.Checkpoint, error) {
	c.mu.Lock()
	last := c.last
	c.mu.Unlock()
	if last != nil {
		return last, nil
	}
	src := Source{Store: c.cfg.Store, Sink: c.cfg.Sink, Signer: c.cfg.Signer}
	cps, err := src.Checkpoints(ctx)
	if err != nil {
		return nil, err
	}
	keys, err := c.cfg.Signer.PublicKeys(ctx)
	if err != nil {
		return nil, err
	}
	// Newest first, stopping at the first whose signature holds: a year
	// of checkpoints need not all be checked at every start.
	slices.SortFunc(cps, func(a, b audit.Checkpoint) int { return cmp.Compare(b.Sequence, a.Sequence) })
	for i := range cps {
		if keys.VerifyCheckpoint(cps[i]) == nil {
			last = &cps[i]
			break
		}
	}
	c.mu.Lock()
	if c.last == nil {
		c.last = last
	}
	c.mu.Unlock()
	return last, nil
}

// Source is where the service's verification finds checkpoints: the
// database's copies and the file sink's, checked against the signer's
// public keys (from Vault transit or the key file, never PostgreSQL).
type Source struct {
	Store interface {
		AllCheckpoints(ctx context.Context) ([]audit.Checkpoint, error)
	}
	Sink   *FileSink
	Signer audit.Signer
}

var _ audit.Checkpoints = Source{}

// Checkpoints implements audit.Checkpoints.
func (s Source) Checkpoints(ctx context.Context) ([]audit.Checkpoint, error) {
	cps, err := s.Store.AllCheckpoints(ctx)
	if err != nil {
		return nil, err
	}
	if s.Sink != nil {
		more, err := ReadFile(s.Sink.Path())
		if err != nil {
			return nil, err
		}
		cps = append(cps, more...)
	}
	return cps, nil
}

// Keys implements audit.Checkpoints.
func (s Source) Keys(ctx context.Context) (audit.PublicKeys, error) { return s.Signer.PublicKeys(ctx) }
