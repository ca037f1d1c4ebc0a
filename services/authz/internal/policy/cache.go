package policy

import (
	"strings"
	"sync"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// A policy version's decision is a function of its input and its data,
// which never change — unless a rule calls a built-in whose answer depends
// on something else (the time, randomness, the network). For deterministic
// policies the engine therefore remembers decisions, keyed by the whole
// input: an agent asking the same question again (the same token, agent
// state, method, path, query and headers; the request id is not part of
// the input) is answered without evaluating. Each version has its own
// cache, so a reload starts empty. Requests with a body are not cached
// (they are writes, and the body would be kept).

// deterministic reports whether no module calls a built-in whose result
// can change while the policy does not.
func deterministic(modules map[string]*ast.Module) bool {
	ok := true
	check := func(op ast.Ref) {
		name := op.String()
		if b, found := ast.BuiltinMap[name]; found && b.Nondeterministic {
			ok = false
		}
		for _, p := range []string{"time.now", "io.jwt.decode_verify", "http.", "net.", "rand.", "uuid.", "opa.runtime"} {
			if strings.HasPrefix(name, p) {
				ok = false
			}
		}
	}
	for _, m := range modules {
		ast.WalkExprs(m, func(e *ast.Expr) bool {
			if e.IsCall() {
				check(e.Operator())
			}
			return false
		})
		ast.WalkTerms(m, func(t *ast.Term) bool {
			if call, isCall := t.Value.(ast.Call); isCall && len(call) > 0 {
				if ref, isRef := call[0].Value.(ast.Ref); isRef {
					check(ref)
				}
			}
			return false
		})
	}
	return ok
}

const cacheShards = 32

// DecisionIdleFor is how long a decision nobody asked for again stays
// cached. An input holds the caller's token, and clients replace tokens
// long before they expire: without this bound the cache would fill with
// the decisions of tokens no longer in use.
const DecisionIdleFor = time.Minute

const decisionIdleSeconds = int64(DecisionIdleFor / time.Second)

// decisionCache maps inputs to decisions, bounded per shard: a decision not
// asked for in DecisionIdleFor is dropped (put sweeps a shard every quarter
// of that), and a shard still full after a sweep is cleared (a crude bound
// that only matters under a flood of distinct requests, which then simply
// evaluate).
type decisionCache struct {
	perShard int
	now      func() int64
	shards   [cacheShards]struct {
		mu    sync.Mutex
		m     map[int][]cachedDecision
		n     int
		swept int64
	}
}

type cachedDecision struct {
	input ast.Value
	d     Decision
	used  int64 // Unix seconds
}

func newDecisionCache(size int, now func() int64) *decisionCache {
	if now == nil {
		now = func() int64 { return time.Now().Unix() }
	}
	c := &decisionCache{perShard: max(1, size/cacheShards), now: now}
	for i := range c.shards {
		c.shards[i].m = map[int][]cachedDecision{}
	}
	return c
}

func (c *decisionCache) get(in ast.Value, hash int) (Decision, bool) {
	now := c.now()
	s := &c.shards[uint(hash)%cacheShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	entries := s.m[hash]
	for i := range entries {
		if ast.ValueEqual(entries[i].input, in) {
			entries[i].used = now
			return entries[i].d, true
		}
	}
	return Decision{}, false
}

func (c *decisionCache) put(in ast.Value, hash int, d Decision) {
	now := c.now()
	s := &c.shards[uint(hash)%cacheShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	if now-s.swept >= decisionIdleSeconds/4 || s.n >= c.perShard {
		idleSince := now - decisionIdleSeconds
		for h, entries := range s.m {
			kept := entries[:0]
			for _, e := range entries {
				if e.used >= idleSince {
					kept = append(kept, e)
				}
			}
			clear(entries[len(kept):]) // let the dropped inputs go
			if len(kept) == 0 {
				delete(s.m, h)
			} else {
				s.m[h] = kept
			}
			s.n -= len(entries) - len(kept)
		}
		s.swept = now
	}
	if s.n >= c.perShard {
		clear(s.m)
		s.n = 0
	}
	s.m[hash] = append(s.m[hash], cachedDecision{input: in, d: d, used: now})
	s.n++
}

// len counts the decisions cached (tests).
func (c *decisionCache) len() int {
	n := 0
	for i := range c.shards {
		c.shards[i].mu.Lock()
		n += c.shards[i].n
		c.shards[i].mu.Unlock()
	}
	return n
}
