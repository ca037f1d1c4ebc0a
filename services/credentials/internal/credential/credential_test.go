package credential

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"

	"github.com/sentryagent/agentidp/libs/apierror"
	"github.com/sentryagent/agentidp/services/credentials/internal/secret"
)

func TestStatus(t *testing.T) {
	now := time.Now()
	past, future := now.Add(-time.Second), now.Add(time.Second)
	tests := []struct {
		c    Credential
		want Status
	}{
		{Credential{State: StateActive}, StatusActive},
		{Credential{State: StateActive, ExpiresAt: &future}, StatusActive},
		{Credential{State: StateActive, ExpiresAt: &now}, StatusExpired},
		{Credential{State: StateActive, ExpiresAt: &past}, StatusExpired},
		{Credential{State: StateRevoked, ExpiresAt: &past}, StatusRevoked},
	}
	for _, tt := range tests {
		if got := tt.c.Status(now); got != tt.want {
			t.Errorf("%+v: %s, want %s", tt.c, got, tt.want)
		}
	}
}

func TestDigestCache(t *testing.T) {
	c := NewDigestCache(time.Minute, 10)
	now := time.Now()
	c.now = func() time.Time { return now }
	a, b := uuid.New(), uuid.New()
	da, db := secret.DigestOf("a"), secret.DigestOf("b")
	c.Put(a, 1, da)
	c.Put(a, 2, db)
	c.Put(b, 1, db)
	if d, ok := c.Get(a, 1); !ok || d != da {
		t.Fatal("miss on a fresh entry")
	}
	if _, ok := c.Get(a, 3); ok {
		t.Fatal("hit on an absent version")
	}
	c.Invalidate(a)
	if _, ok := c.Get(a, 2); ok || c.Len() != 1 {
		t.Fatalf("invalidate left %d entries", c.Len())
	}
	now = now.Add(time.Minute)
	if _, ok := c.Get(b, 1); ok || c.Len() != 0 {
		t.Fatal("expired entry served")
	}
	for i := range 25 {
		c.Put(uuid.New(), int64(i), da)
		if c.Len() > 10 {
			t.Fatalf("cache grew to %d entries, bound 10", c.Len())
		}
	}
	if NewDigestCache(0, 10) != nil || NewDigestCache(time.Second, 0) != nil {
		t.Fatal("a zero TTL or size must disable the cache")
	}
	var off *DigestCache // nil: no caching, no panics
	off.Put(a, 1, da)
	off.Invalidate(a)
	if _, ok := off.Get(a, 1); ok {
		t.Fatal("nil cache hit")
	}
}

func TestPageToken(t *testing.T) {
	agent, other, after := uuid.New(), uuid.New(), uuid.Must(uuid.NewV7())
	tok := encodePageToken(after, agent)
	if got, err := decodePageToken(tok, agent); err != nil || got != after {
		t.Fatalf("round trip: %v %v", got, err)
	}
	for _, bad := range []string{"x", tok[:len(tok)-2], "e30", string(make([]byte, 300))} {
		if _, err := decodePageToken(bad, agent); apierror.As(err) == nil || apierror.As(err).Reason != "INVALID_PAGE_TOKEN" {
			t.Fatalf("token %q: %v", bad, err)
		}
	}
	if _, err := decodePageToken(tok, other); err == nil {
		t.Fatal("a token of another agent was accepted")
	}
}

func TestParseID(t *testing.T) {
	id := uuid.New()
	if got, err := parseID("agentId", id.String()); err != nil || got != id {
		t.Fatal(err)
	}
	for in, reason := range map[string]string{"": "FIELD_REQUIRED", "x": "FIELD_INVALID",
		"urn:uuid:" + id.String(): "FIELD_INVALID", id.String()[:35]: "FIELD_INVALID"} {
		_, err := parseID("agentId", in)
		if e := apierror.As(err); e == nil || e.Reason != reason || e.Field != "agentId" {
			t.Fatalf("%q: %v, want %s", in, err, reason)
		}
	}
}

// TestBcryptSlots: legacy (bcrypt) comparisons run in a bounded number of
// slots; a verification that cannot get one soon is refused as busy
// (RESOURCE_EXHAUSTED: not a failure for a caller's circuit breaker).
func TestBcryptSlots(t *testing.T) {
	s := New(Config{BcryptConcurrency: 1})
	hash, err := bcrypt.GenerateFromPassword([]byte("phase1"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if ok, err := s.matchBcrypt(ctx, string(hash), "phase1"); !ok || err != nil {
		t.Fatalf("free slot: %v %v", ok, err)
	}
	if err := s.bcrypt.Acquire(ctx, 1); err != nil { // the only slot, taken
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := s.matchBcrypt(ctx, string(hash), "phase1"); !errors.Is(err, ErrVerifierBusy) || apierror.KindOf(err) != apierror.ResourceExhausted {
		t.Fatalf("every slot taken: %v", err)
	}
	if waited := time.Since(start); waited < maxBcryptWait || waited > maxBcryptWait+time.Second {
		t.Fatalf("waited %v for a slot", waited)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.matchBcrypt(cancelled, string(hash), "phase1"); !errors.Is(err, context.Canceled) {
		t.Fatalf("caller gone: %v", err)
	}
	s.bcrypt.Release(1)
	if ok, err := s.matchBcrypt(ctx, string(hash), "phase2"); ok || err != nil {
		t.Fatalf("wrong secret: %v %v", ok, err)
	}
}
