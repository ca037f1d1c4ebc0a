package token_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sentryagent/agentidp/libs/accesstoken"
	"github.com/sentryagent/agentidp/services/authz/internal/token"
)

func TestCache(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := token.NewCache(64, func() time.Time { return now })
	e := token.NewEntry(accesstoken.NewVerified(accesstoken.Claims{ID: "j1", Expiry: now.Unix() + 60}, "k1"))
	c.Put(token.KeyOf("t1"), e)
	c.Put(token.KeyOf("t2"), token.NewEntry(accesstoken.NewVerified(accesstoken.Claims{ID: "j2", Expiry: now.Unix() + 60}, "k2")))
	c.Put(token.KeyOf("old"), token.NewEntry(accesstoken.NewVerified(accesstoken.Claims{ID: "j3", Expiry: now.Unix()}, "k1")))
	if c.Get(token.KeyOf("t1")) != e || c.Get(token.KeyOf("old")) != nil {
		t.Fatal("Get")
	}
	c.DropJTI("j1")
	if c.Get(token.KeyOf("t1")) != nil {
		t.Fatal("revoked jti still cached")
	}
	c.DropKeys([]string{"k2"})
	if c.Get(token.KeyOf("t2")) != nil {
		t.Fatal("token of a withdrawn key still cached")
	}
	for i := 0; i < 10_000; i++ {
		c.Put(token.KeyOf(strings.Repeat("x", i)), token.NewEntry(accesstoken.NewVerified(accesstoken.Claims{ID: string(rune(i)), Expiry: now.Unix() + 60}, "")))
	}
	if n := c.Len(); n > 64 {
		t.Fatalf("%d entries in a cache of 64", n)
	}
	if e.Checked(0) || e.Checked(1) {
		t.Fatal("Checked before MarkChecked")
	}
	e.MarkChecked(3)
	if !e.Checked(3) || e.Checked(4) {
		t.Fatal("epochs")
	}
}

// TestCacheDropsIdleTokens: a token nobody presents for IdleFor is dropped
// even though it is still valid (clients replace tokens long before they
// expire); one in use stays.
func TestCacheDropsIdleTokens(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := token.NewCache(1<<16, func() time.Time { return now })
	claims := func(id string) *accesstoken.Verified {
		return accesstoken.NewVerified(accesstoken.Claims{ID: id, Expiry: now.Unix() + 900}, "")
	}
	used, idle := token.NewEntry(claims("used")), token.NewEntry(claims("idle"))
	c.Put(token.KeyOf("used"), used)
	c.Put(token.KeyOf("idle"), idle)
	for step := time.Duration(0); step <= token.IdleFor+token.IdleFor/2; step += 10 * time.Second {
		now = now.Add(10 * time.Second)
		if c.Get(token.KeyOf("used")) != used {
			t.Fatalf("the token in use was dropped after %v", step)
		}
		// Traffic: new tokens in every shard, which is what sweeps.
		for i := 0; i < 256; i++ {
			c.Put(token.KeyOf(fmt.Sprint(step, i)), token.NewEntry(claims(fmt.Sprint(step, i))))
		}
	}
	if c.Get(token.KeyOf("idle")) != nil {
		t.Fatal("a token idle for 1.5 × IdleFor is still cached")
	}
	// What is left is what was used within the last IdleFor (+ a sweep
	// interval, rounded up to a step): 256 per 10 s, plus "used".
	if n, most := c.Len(), 256*(int((token.IdleFor+token.IdleFor/4)/(10*time.Second))+1)+1; n > most {
		t.Fatalf("%d entries cached, want at most %d", n, most)
	}
}
