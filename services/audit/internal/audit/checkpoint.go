package audit

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/sentryagent/agentidp/libs/requestinfo"
)

// A Checkpoint is a signed statement that the chain's event at Sequence had
// Hash. The key that signs it never reaches PostgreSQL (Vault transit, or a
// key file for development), so someone who can rewrite every row —
// events, head and stored checkpoints alike — cannot produce a checkpoint
// for the chain they rewrote: verification against checkpoints proves the
// log up to the newest one.
type Checkpoint struct {
	Sequence  int64
	Hash      []byte
	SignedAt  time.Time
	KeyID     string // KeyID of the public key that verifies it
	Algorithm string // AlgEd25519 or AlgECDSAP256
	Signature []byte
}

// Signature algorithms of checkpoints.
const (
	AlgEd25519   = "ed25519"
	AlgECDSAP256 = "ecdsa-p256-sha256" // ASN.1 DER signature over SHA-256 of the payload
)

// checkpointHeader starts every signed payload: a signature over it cannot
// be taken for a signature over anything else the key might sign.
const checkpointHeader = "agentidp-audit-checkpoint/v1\n"

// Payload is the exact byte string that is signed:
//
//	agentidp-audit-checkpoint/v1\n
//	sequence=<decimal>\n
//	hash=<lower-case hex>\n
//	time=<RFC 3339 UTC with microseconds, e.g. 2026-12-06T21:30:00.123456Z>\n
func (c Checkpoint) Payload() []byte {
	return []byte(checkpointHeader +
		"sequence=" + strconv.FormatInt(c.Sequence, 10) + "\n" +
		"hash=" + hex.EncodeToString(c.Hash) + "\n" +
		"time=" + c.SignedAt.UTC().Format("2006-01-02T15:04:05.000000Z") + "\n")
}

// PublicKeys are the keys checkpoints are verified with, by KeyID. They
// come from outside PostgreSQL: Vault transit's published keys, a key file,
// or a PEM file an auditor holds.
type PublicKeys map[string]crypto.PublicKey

// KeyID names a public key: hex of the first 16 bytes of SHA-256 over its
// PKIX DER encoding.
func KeyID(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:16]), nil
}

// Add adds pub under its KeyID.
func (k PublicKeys) Add(pub crypto.PublicKey) error {
	id, err := KeyID(pub)
	if err != nil {
		return err
	}
	k[id] = pub
	return nil
}

// ErrBadSignature: the checkpoint's signature does not hold under the key
// it names, or it names no known key.
var ErrBadSignature = errors.New("checkpoint signature does not verify")

// VerifyCheckpoint checks c's signature under keys.
func (k PublicKeys) VerifyCheckpoint(c Checkpoint) error {
	pub, ok := k[c.KeyID]
	if !ok {
		return fmt.Errorf("%w: unknown key %q", ErrBadSignature, c.KeyID)
	}
	payload := c.Payload()
	switch pub := pub.(type) {
	case ed25519.PublicKey:
		if c.Algorithm == AlgEd25519 && ed25519.Verify(pub, payload, c.Signature) {
			return nil
		}
	case *ecdsa.PublicKey:
		sum := sha256.Sum256(payload)
		if c.Algorithm == AlgECDSAP256 && ecdsa.VerifyASN1(pub, sum[:], c.Signature) {
			return nil
		}
	default:
		return fmt.Errorf("%w: key %s has an unsupported type %T", ErrBadSignature, c.KeyID, pub)
	}
	return ErrBadSignature
}

// Signer signs checkpoint payloads with a key PostgreSQL never sees.
type Signer interface {
	// Sign returns the signature of payload, the algorithm and the KeyID
	// of the key that made it.
	Sign(ctx context.Context, payload []byte) (sig []byte, alg, keyID string, err error)
	// PublicKeys returns every key that may verify the signer's
	// checkpoints (older key versions included).
	PublicKeys(ctx context.Context) (PublicKeys, error)
}

// SignCheckpoint signs the head (seq, hash) at time at.
func SignCheckpoint(ctx context.Context, s Signer, seq int64, hash []byte, at time.Time) (Checkpoint, error) {
	c := Checkpoint{Sequence: seq, Hash: hash, SignedAt: at.UTC().Truncate(time.Microsecond)}
	sig, alg, keyID, err := s.Sign(ctx, c.Payload())
	if err != nil {
		return Checkpoint{}, fmt.Errorf("sign the checkpoint: %w", err)
	}
	c.Signature, c.Algorithm, c.KeyID = sig, alg, keyID
	return c, nil
}

// Checkpoints is where verification finds signed checkpoints and the keys
// to check them with.
type Checkpoints interface {
	// Checkpoints returns every checkpoint known (in any order; the same
	// checkpoint may appear twice, from two places).
	Checkpoints(ctx context.Context) ([]Checkpoint, error)
	// Keys returns the public keys, obtained outside PostgreSQL.
	Keys(ctx context.Context) (PublicKeys, error)
}

// Checkpoint pages: 1 to MaxCheckpointPageSize, default DefaultCheckpointPageSize.
const (
	DefaultCheckpointPageSize = 100
	MaxCheckpointPageSize     = 1000
)

// CheckpointQuery selects a page of checkpoints, oldest first.
type CheckpointQuery struct {
	PageSize  int // 0 is an error; the transport maps an absent size to the default
	PageToken string
	From      int64 // only checkpoints at or after this sequence
}

// CheckpointPage is one page of checkpoints.
type CheckpointPage struct {
	Checkpoints   []Checkpoint
	NextPageToken string
}

func (s *service) ListCheckpoints(ctx context.Context, q CheckpointQuery) (CheckpointPage, error) {
	if !requestinfo.From(ctx).Platform() {
		return CheckpointPage{}, ErrPlatformOnly.WithMessage("the checkpoints cover every owner's events: listing them needs platform:admin")
	}
	if q.PageSize < 1 || q.PageSize > MaxCheckpointPageSize {
		return CheckpointPage{}, fieldError(errPageSize, "pageSize", "pageSize must be between 1 and %d (omit it for %d)",
			MaxCheckpointPageSize, DefaultCheckpointPageSize)
	}
	if q.From < 0 {
		return CheckpointPage{}, fieldError(errSequenceRange, "fromSequence", "fromSequence must not be negative")
	}
	from := q.From
	if q.PageToken != "" {
		// The token is the next sequence to return (opaque to clients).
		b, err := base64.RawURLEncoding.DecodeString(q.PageToken)
		n, perr := strconv.ParseInt(string(b), 10, 64)
		if err != nil || perr != nil || n < from {
			return CheckpointPage{}, fieldError(errPageToken, "pageToken", "pageToken is not one this service issued")
		}
		from = n
	}
	if s.cpStore == nil {
		return CheckpointPage{}, nil // checkpoints are off
	}
	cps, err := s.cpStore.ListCheckpoints(ctx, from, q.PageSize+1)
	if err != nil {
		return CheckpointPage{}, err
	}
	page := CheckpointPage{Checkpoints: cps}
	if len(cps) > q.PageSize {
		page.Checkpoints = cps[:q.PageSize]
		next := cps[q.PageSize].Sequence
		page.NextPageToken = base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(next, 10)))
	}
	return page, nil
}
