package audit

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"

	"github.com/google/uuid"

	"github.com/sentryagent/agentidp/libs/requestinfo"
)

// Kinds of chain breaks.
const (
	BreakHashMismatch     = "hash_mismatch"      // the event was altered
	BreakPrevHashMismatch = "prev_hash_mismatch" // the link to the previous event is broken
	BreakMissingEvents    = "missing_events"     // sequences are missing (events deleted)
	BreakHeadMismatch     = "head_mismatch"      // the newest events are gone, or the head was altered
	// The recomputed chain at a signed checkpoint's sequence is not the
	// signed head: events up to it were rewritten (hashes recomputed).
	BreakCheckpointMismatch = "checkpoint_mismatch"
	// A checkpoint's signature does not hold under the published keys (a
	// stored checkpoint was forged or altered).
	BreakCheckpointInvalid = "checkpoint_invalid"
	// A signed checkpoint covers sequences the log no longer holds (the
	// newest events were deleted and the head moved back).
	BreakCheckpointBeyondHead = "checkpoint_beyond_head"
)

// ChainReader reads the chain for verification.
type ChainReader interface {
	// Head returns the end of the chain (sequence 0 when it is empty).
	Head(ctx context.Context) (Head, error)
	// FirstSequence returns the smallest sequence stored (ok=false: none).
	FirstSequence(ctx context.Context) (seq int64, ok bool, err error)
	// Scan calls fn for each stored event with from <= sequence <= to, in
	// sequence order, until fn returns an error.
	Scan(ctx context.Context, from, to int64, fn func(Event) error) error
	// RetentionAnchor returns the hash of the last event that retention
	// dropped when it dropped every event up to lastDropped (ok=false: no
	// audit.retention event says so).
	RetentionAnchor(ctx context.Context, lastDropped int64) (hash []byte, ok bool, err error)
}

// Range selects sequences to verify; nil bounds mean the oldest event kept
// and the newest event (whereupon the head is checked too).
type Range struct {
	From, To *int64
}

// Verification is the result of checking the chain over a range.
type Verification struct {
	OK       bool
	From, To int64
	Checked  int64
	Break    *Break
	// CheckpointsChecked counts the signed checkpoints in the range that
	// held; CheckpointedThrough is the newest sequence one covers.
	CheckpointsChecked  int64
	CheckpointedThrough int64
}

// Break is the first place where the chain stops proving the log intact.
type Break struct {
	Sequence int64
	EventID  uuid.UUID // Nil when the event is missing
	Kind     string
	Expected string
	Actual   string
}

var errStop = errors.New("stop")

func (s *service) Verify(ctx context.Context, r Range) (Verification, error) {
	if !requestinfo.From(ctx).Platform() {
		return Verification{}, ErrPlatformOnly
	}
	var cps []Checkpoint
	var keys PublicKeys
	if s.checkpoints != nil {
		var err error
		if keys, err = s.checkpoints.Keys(ctx); err != nil {
			return Verification{}, fmt.Errorf("read the checkpoint keys: %w", err)
		}
		if cps, err = s.checkpoints.Checkpoints(ctx); err != nil {
			return Verification{}, fmt.Errorf("read the checkpoints: %w", err)
		}
	}
	v, err := VerifyWith(ctx, s.store, r, cps, keys)
	if err == nil && s.metrics.Verifications != nil {
		result := "ok"
		if !v.OK {
			result = "broken"
		}
		s.metrics.Verifications.WithLabelValues(result).Inc()
	}
	return v, err
}

// Verify recomputes the chain over r (the service's Verify and the
// `audit verify` command share it). Each event must follow its predecessor
// without a gap, carry the predecessor's hash as PrevHash, and hash to its
// stored Hash. The first event kept must chain to ZeroHash (sequence 1) or
// to the hash an audit.retention event recorded when it dropped the events
// before it. Without an explicit upper bound, the last event must also be
// the recorded head.
func Verify(ctx context.Context, chain ChainReader, r Range) (Verification, error) {
	return VerifyWith(ctx, chain, r, nil, nil)
}

// VerifyWith is Verify that also proves the log against signed checkpoints:
// each checkpoint's signature must hold under keys, and the recomputed
// chain at its sequence must be its signed hash. A rewrite that recomputes
// every hash and moves the stored head passes the hash chain but not a
// checkpoint signed before it. Checkpoints before the range (or dropped by
// retention) are not checked; with no upper bound, a checkpoint beyond the
// stored head is a break (the tail was cut and the head moved back).
func VerifyWith(ctx context.Context, chain ChainReader, r Range, checkpoints []Checkpoint, keys PublicKeys) (Verification, error) {
	v, head, err := verifyRange(ctx, chain, r, checkpoints, keys)
	if err != nil || !v.OK || r.To != nil {
		return v, err
	}
	// The tail: a validly signed sequence beyond the stored head means the
	// newest events were deleted and the head moved back.
	var beyond *Checkpoint
	for i, c := range checkpoints {
		if c.Sequence > head.Sequence && (beyond == nil || c.Sequence < beyond.Sequence) && keys.VerifyCheckpoint(c) == nil {
			beyond = &checkpoints[i]
		}
	}
	if beyond != nil {
		v.OK = false
		v.Break = &Break{Sequence: beyond.Sequence, Kind: BreakCheckpointBeyondHead,
			Expected: strconv.FormatInt(beyond.Sequence, 10), Actual: strconv.FormatInt(head.Sequence, 10)}
	}
	return v, nil
}

func verifyRange(ctx context.Context, chain ChainReader, r Range, checkpoints []Checkpoint, keys PublicKeys) (Verification, Head, error) {
	if r.From != nil && *r.From < 1 {
		return Verification{}, Head{}, fieldError(errSequenceRange, "fromSequence", "fromSequence must be at least 1")
	}
	if r.To != nil && *r.To < 1 {
		return Verification{}, Head{}, fieldError(errSequenceRange, "toSequence", "toSequence must be at least 1")
	}
	if r.From != nil && r.To != nil && *r.From > *r.To {
		return Verification{}, Head{}, fieldError(errSequenceRange, "fromSequence", "fromSequence must not be after toSequence")
	}
	head, err := chain.Head(ctx)
	if err != nil {
		return Verification{}, Head{}, err
	}
	first, any, err := chain.FirstSequence(ctx)
	if err != nil {
		return Verification{}, head, err
	}
	v := Verification{OK: true}
	if !any {
		if head.Sequence > 0 {
			v.OK = false
			v.Break = &Break{Sequence: head.Sequence, Kind: BreakHeadMismatch,
				Expected: strconv.FormatInt(head.Sequence, 10), Actual: "0"}
		}
		return v, head, nil
	}
	v.From, v.To = first, head.Sequence
	if r.From != nil && *r.From > first {
		v.From = *r.From
	}
	if r.To != nil && *r.To < head.Sequence {
		v.To = *r.To
	}
	if v.From > v.To {
		return v, head, nil // nothing kept in the range
	}
	at := map[int64][]Checkpoint{} // the checkpoints to check, by sequence
	for _, c := range checkpoints {
		if c.Sequence >= v.From && c.Sequence <= v.To {
			at[c.Sequence] = append(at[c.Sequence], c)
		}
	}

	// What the first event's PrevHash must be.
	var prev []byte
	scanFrom := v.From
	switch {
	case v.From == 1:
		prev = ZeroHash
	case v.From == first:
		anchor, ok, err := chain.RetentionAnchor(ctx, v.From-1)
		if err != nil {
			return Verification{}, head, err
		}
		if !ok {
			v.OK = false
			v.Break = &Break{Sequence: 1, Kind: BreakMissingEvents, Expected: "1", Actual: strconv.FormatInt(v.From, 10)}
			return v, head, nil
		}
		prev = anchor
	default:
		scanFrom = v.From - 1 // the predecessor's stored hash is the link to check
	}

	next := scanFrom
	fail := func(b Break) error {
		v.OK, v.Break = false, &b
		return errStop
	}
	err = chain.Scan(ctx, scanFrom, v.To, func(e Event) error {
		if e.Sequence != next {
			return fail(Break{Sequence: next, Kind: BreakMissingEvents,
				Expected: strconv.FormatInt(next, 10), Actual: strconv.FormatInt(e.Sequence, 10)})
		}
		next++
		if e.Sequence < v.From { // the predecessor of the range
			prev = e.Hash
			return nil
		}
		if !bytes.Equal(e.PrevHash, prev) {
			return fail(Break{Sequence: e.Sequence, EventID: e.ID, Kind: BreakPrevHashMismatch,
				Expected: hex.EncodeToString(prev), Actual: hex.EncodeToString(e.PrevHash)})
		}
		if want := ChainHash(e.PrevHash, e); !bytes.Equal(want, e.Hash) {
			return fail(Break{Sequence: e.Sequence, EventID: e.ID, Kind: BreakHashMismatch,
				Expected: hex.EncodeToString(want), Actual: hex.EncodeToString(e.Hash)})
		}
		prev = e.Hash
		v.Checked++
		for _, c := range at[e.Sequence] {
			if err := keys.VerifyCheckpoint(c); err != nil {
				return fail(Break{Sequence: e.Sequence, EventID: e.ID, Kind: BreakCheckpointInvalid,
					Expected: "a signature by a published key", Actual: "key " + c.KeyID + ": " + err.Error()})
			}
			if !bytes.Equal(c.Hash, prev) {
				return fail(Break{Sequence: e.Sequence, EventID: e.ID, Kind: BreakCheckpointMismatch,
					Expected: hex.EncodeToString(c.Hash), Actual: hex.EncodeToString(prev)})
			}
			v.CheckpointsChecked++
			v.CheckpointedThrough = e.Sequence
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return Verification{}, head, err
	}
	if !v.OK {
		return v, head, nil
	}
	if next <= v.To { // the range ends early: its last events are gone
		v.OK = false
		v.Break = &Break{Sequence: next, Kind: BreakMissingEvents,
			Expected: strconv.FormatInt(next, 10), Actual: "none"}
		return v, head, nil
	}
	if r.To == nil && !bytes.Equal(prev, head.Hash) {
		v.OK = false
		v.Break = &Break{Sequence: head.Sequence, Kind: BreakHeadMismatch,
			Expected: hex.EncodeToString(head.Hash), Actual: hex.EncodeToString(prev)}
	}
	return v, head, nil
}
