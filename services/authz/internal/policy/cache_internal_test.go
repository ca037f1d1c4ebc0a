package policy

import (
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// TestDecisionCacheDropsIdleDecisions: a decision nobody asks for again
// within DecisionIdleFor goes (its input holds a token the client has
// replaced); one asked for keeps; the cache stays within its bound.
func TestDecisionCacheDropsIdleDecisions(t *testing.T) {
	now := int64(1_800_000_000)
	c := newDecisionCache(1<<16, func() int64 { return now })
	input := func(s string) (ast.Value, int) { v := ast.String(s); return v, v.Hash() }
	used, usedHash := input("used")
	idle, idleHash := input("idle")
	c.put(used, usedHash, Decision{})
	c.put(idle, idleHash, Decision{})
	step := int64(10)
	for t0 := int64(0); t0 <= int64(DecisionIdleFor/time.Second)*3/2; t0 += step {
		now += step
		if _, ok := c.get(used, usedHash); !ok {
			t.Fatalf("the decision in use was dropped after %d s", t0)
		}
		for i := 0; i < 256; i++ {
			v, h := input(string(rune(now)) + string(rune(i)))
			c.put(v, h, Decision{})
		}
	}
	if _, ok := c.get(idle, idleHash); ok {
		t.Fatal("a decision idle for 1.5 × DecisionIdleFor is still cached")
	}
	if n, most := c.len(), 256*(int(int64(DecisionIdleFor/time.Second)*5/4/step)+1)+1; n > most {
		t.Fatalf("%d decisions cached, want at most %d", n, most)
	}

	// Full: cleared rather than grown.
	small := newDecisionCache(cacheShards*4, func() int64 { return now })
	for i := 0; i < 10_000; i++ {
		v, h := input(string(rune(i)))
		small.put(v, h, Decision{})
	}
	if n := small.len(); n > cacheShards*4 {
		t.Fatalf("%d decisions in a cache of %d", n, cacheShards*4)
	}
}
