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
