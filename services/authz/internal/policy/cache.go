package policy

import (
	"strings"
	"sync"

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

// decisionCache maps inputs to decisions, bounded per shard; a full shard
// is cleared (a crude bound that only matters under a flood of distinct
// requests, which then simply evaluate).
type decisionCache struct {
	perShard int
	shards   [cacheShards]struct {
		mu sync.Mutex
		m  map[int][]cachedDecision
		n  int
	}
}

type cachedDecision struct {
	input ast.Value
	d     Decision
}

func newDecisionCache(size int) *decisionCache {
	c := &decisionCache{perShard: max(1, size/cacheShards)}
	for i := range c.shards {
		c.shards[i].m = map[int][]cachedDecision{}
	}
	return c
}

func (c *decisionCache) get(in ast.Value, hash int) (Decision, bool) {
	s := &c.shards[uint(hash)%cacheShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.m[hash] {
		if ast.ValueEqual(e.input, in) {
			return e.d, true
		}
	}
	return Decision{}, false
}

func (c *decisionCache) put(in ast.Value, hash int, d Decision) {
	s := &c.shards[uint(hash)%cacheShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n >= c.perShard {
		clear(s.m)
		s.n = 0
	}
	s.m[hash] = append(s.m[hash], cachedDecision{input: in, d: d})
	s.n++
}
