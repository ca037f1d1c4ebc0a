package policy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"
)

// Policy is a compiled, tested policy: a prepared query over its modules
// and data, safe for concurrent use.
type Policy struct {
	Revision string
	// Tests is how many Rego tests passed before it was accepted.
	Tests int
	query rego.PreparedEvalQuery
	// txn is one read transaction shared by every evaluation: the store is
	// never written after Compile, and a transaction per call costs.
	txn storage.Transaction
	// limits are the named rate limits (the rule rate_limits beside the
	// decision), evaluated once.
	limits map[string]RateLimit
	// decisions remembers decisions of a deterministic policy (cache.go);
	// nil when the policy calls time, randomness or the network.
	decisions *decisionCache
}

// DecisionCacheSize bounds the decisions a policy version remembers.
const DecisionCacheSize = 65536

// TestFailure is returned by Compile when the bundle's own tests fail.
type TestFailure struct {
	Failed []string // "package.test_name: reason"
	Total  int
}

func (e *TestFailure) Error() string {
	shown := e.Failed
	if len(shown) > 10 {
		shown = shown[:10]
	}
	return fmt.Sprintf("%d of %d Rego tests failed: %s", len(e.Failed), e.Total, strings.Join(shown, "; "))
}

// TestTimeout bounds each Rego test.
const TestTimeout = 10 * time.Second

// Compile compiles the bundle, runs its tests and prepares query (e.g.
// "data.agentidp.authz.decision"). A bundle that does not compile, whose
// tests fail, or that defines nothing at query is refused.
func Compile(ctx context.Context, b *Bundle, query string) (*Policy, error) {
	ref, err := ast.ParseRef(query)
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", query, err)
	}
	compiler := ast.NewCompiler().WithDefaultRegoVersion(ast.RegoV1)
	if compiler.Compile(b.Modules); compiler.Failed() {
		return nil, compiler.Errors
	}
	if len(compiler.GetRules(ref)) == 0 {
		return nil, fmt.Errorf("the policy defines no rule at %s", query)
	}

	tests, err := RunTests(ctx, b)
	if err != nil {
		return nil, err
	}

	store := newStore(b.Data)
	txn, err := store.NewTransaction(ctx)
	if err != nil {
		return nil, err
	}
	opts := []func(*rego.Rego){
		rego.Query(query),
		rego.Store(store),
		rego.SetRegoVersion(ast.RegoV1),
	}
	for _, name := range sortedKeys(b.Modules) {
		opts = append(opts, rego.ParsedModule(b.Modules[name]))
	}
	pq, err := rego.New(opts...).PrepareForEval(ctx)
	if err != nil {
		return nil, err
	}
	limits, err := namedLimits(ctx, ref, opts)
	if err != nil {
		return nil, err
	}
	p := &Policy{Revision: b.Revision, Tests: tests, query: pq, txn: txn, limits: limits}
	if deterministic(b.Modules) {
		p.decisions = newDecisionCache(DecisionCacheSize, nil)
	}
	return p, nil
}

// namedLimits evaluates <decision's package>.rate_limits, an object of
// bucket name → {"per_second", "burst"}; none is fine.
func namedLimits(ctx context.Context, decision ast.Ref, opts []func(*rego.Rego)) (map[string]RateLimit, error) {
	out := map[string]RateLimit{}
	if len(decision) < 2 {
		return out, nil
	}
	ref := append(decision[:len(decision)-1].Copy(), ast.StringTerm("rate_limits"))
	opts = append(append([]func(*rego.Rego){}, opts[1:]...), rego.Query(ref.String()))
	rs, err := rego.New(opts...).Eval(ctx)
	if err != nil {
		return nil, fmt.Errorf("rate_limits: %w", err)
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return out, nil
	}
	v, err := ast.InterfaceToValue(rs[0].Expressions[0].Value)
	if err != nil {
		return nil, err
	}
	obj, ok := v.(ast.Object)
	if !ok {
		return nil, errors.New("rate_limits must be an object of bucket name to limit")
	}
	err = obj.Iter(func(k, l *ast.Term) error {
		name, ok1 := k.Value.(ast.String)
		lim, ok2 := l.Value.(ast.Object)
		if !ok1 || !ok2 {
			return fmt.Errorf("rate_limits: %v is not a limit object", k)
		}
		rl, err := parseRateLimit(lim, string(name))
		if err != nil {
			return err
		}
		out[string(name)] = *rl
		return nil
	})
	return out, err
}

// RunTests runs the bundle's Rego tests against its modules and data and
// returns how many passed, or a *TestFailure.
func RunTests(ctx context.Context, b *Bundle) (int, error) {
	if len(b.Tests) == 0 {
		return 0, nil
	}
	all := maps.Clone(b.Modules)
	maps.Copy(all, b.Tests)
	ch, err := tester.NewRunner().
		SetDefaultRegoVersion(ast.RegoV1).
		SetStore(newStore(b.Data)).
		SetModules(all).
		SetTimeout(TestTimeout).
		RunTests(ctx, nil)
	if err != nil {
		var errs ast.Errors
		if errors.As(err, &errs) {
			return 0, fmt.Errorf("compile with tests: %w", errs)
		}
		return 0, err
	}
	total := 0
	var failed []string
	for r := range ch {
		total++
		switch {
		case r.Error != nil:
			failed = append(failed, fmt.Sprintf("%s.%s: %v", r.Package, r.Name, r.Error))
		case r.Fail:
			failed = append(failed, fmt.Sprintf("%s.%s: failed", r.Package, r.Name))
		}
	}
	if len(failed) > 0 {
		sort.Strings(failed)
		return 0, &TestFailure{Failed: failed, Total: total}
	}
	return total, nil
}

// Eval evaluates the policy on input (an AST value, converted once by the
// caller) and returns its decision. With remember, a deterministic policy's
// decision is looked up and kept by input (the caller says no for inputs
// worth not keeping, such as request bodies). The decision's maps are
// shared: callers must not modify them.
func (p *Policy) Eval(ctx context.Context, input ast.Value, remember bool) (Decision, bool, error) {
	remember = remember && p.decisions != nil
	var hash int
	if remember {
		hash = input.Hash()
		if d, ok := p.decisions.get(input, hash); ok {
			return d, true, nil
		}
	}
	d, err := p.eval(ctx, input)
	if err == nil && remember {
		p.decisions.put(input, hash, d)
	}
	return d, false, err
}

// Cacheable reports whether the policy's decisions may be remembered.
func (p *Policy) Cacheable() bool { return p.decisions != nil }

func (p *Policy) eval(ctx context.Context, input ast.Value) (Decision, error) {
	rs, err := p.query.Eval(ctx, rego.EvalParsedInput(input), rego.EvalTransaction(p.txn),
		rego.EvalMetrics(noMetrics), rego.EvalGenerateJSON(keepAST))
	if err != nil {
		return Decision{}, err
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return Decision{}, ErrUndefined
	}
	v, ok := rs[0].Expressions[0].Value.(ast.Value)
	if !ok {
		return Decision{}, ErrUndefined
	}
	d, err := ParseDecision(v)
	if err == nil && d.RateLimit != nil && d.RateLimit.named {
		if lim, ok := p.limits[d.RateLimit.Bucket]; ok {
			d.RateLimit = &lim
		} else {
			d.RateLimit = nil // a bucket without a limit: unlimited
		}
	}
	return d, err
}

var noMetrics = metrics.NoOp()

// keepAST leaves the result as OPA computed it; ParseDecision reads it
// without a conversion to Go maps.
func keepAST(t *ast.Term, _ *rego.EvalContext) (any, error) { return t.Value, nil }

// newStore holds data as AST values: read back as they are on every
// evaluation, instead of being converted from Go values each time (which,
// for the scope table, cost as much as the rest of an evaluation).
func newStore(data map[string]any) storage.Store {
	return inmem.NewFromObjectWithOpts(data, inmem.OptRoundTripOnWrite(false), inmem.OptReturnASTValuesOnRead(true))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
