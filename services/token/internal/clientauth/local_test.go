package clientauth

import (
	"testing"
	"time"

	"github.com/sentryagent/agentidp/services/token/internal/authcache"
)

func TestLocalCache(t *testing.T) {
	c := newLocalCache(500 * time.Millisecond)
	now := time.Now()
	f := authcache.Found{Allowed: true, CredGen: 3}
	gen := c.generation("a")
	c.put("a", "m", f, gen, now)
	if got, ok := c.get("a", "m", now.Add(499*time.Millisecond)); !ok || got.CredGen != 3 {
		t.Fatal("fresh entry missing")
	}
	if _, ok := c.get("a", "m", now.Add(500*time.Millisecond)); ok {
		t.Fatal("entry outlived its TTL")
	}
	if _, ok := c.get("a", "other", now); ok {
		t.Fatal("another secret's entry")
	}
	// A lookup that started before an event must not store what it read.
	gen = c.generation("a")
	c.forget("a")
	c.put("a", "m2", f, gen, now)
	if _, ok := c.get("a", "m2", now); ok {
		t.Fatal("a lookup older than forget was stored")
	}
	if _, ok := c.get("a", "m", now); ok {
		t.Fatal("forget left an entry")
	}
}

func TestAllowance(t *testing.T) {
	var a allowance
	now := time.Now()
	if a.take(now) {
		t.Fatal("allowance out of nothing")
	}
	if n := a.want(now, 64); n != 1 {
		t.Fatalf("a quiet client reserves %d", n)
	}
	// A busy client: 40 requests in a window, then it reserves ~41.
	for i := 0; i < 39; i++ {
		a.take(now)
	}
	later := now.Add(allowanceWindow)
	if n := a.want(later, 64); n != 41 {
		t.Fatalf("a busy client reserves %d", n)
	}
	if n := a.want(later, 8); n != 8 {
		t.Fatalf("reservation not capped: %d", n)
	}
	a.add(2, later)
	for i := 0; i < 2; i++ {
		if !a.take(later) {
			t.Fatalf("reserved token %d not taken", i+1)
		}
	}
	if a.take(later) {
		t.Fatal("a third token taken from two reserved")
	}
	a.add(5, later)
	if a.take(later.Add(allowanceWindow)) {
		t.Fatal("reserved tokens outlived their window")
	}
	// Long quiet: back to exact counting.
	if n := a.want(later.Add(10*time.Second), 64); n != 1 {
		t.Fatalf("after a pause a client reserves %d", n)
	}
}
