package policy

import (
	"context"
	"maps"
	"regexp"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/tester"
)

// TestResults runs the bundle's Rego tests as RunTests does (the same
// store, built-in functions and timeout) and returns each test's result,
// for a person reading them (agentidp policy test). run, if not nil,
// selects the tests by "package.name".
func TestResults(ctx context.Context, b *Bundle, run *regexp.Regexp) ([]*tester.Result, error) {
	all := maps.Clone(b.Modules)
	maps.Copy(all, b.Tests)
	runner := tester.NewRunner().
		SetDefaultRegoVersion(ast.RegoV1).
		SetStore(newStore(b.Data)).
		SetModules(all).
		SetTimeout(TestTimeout)
	if run != nil {
		runner = runner.Filter(run.String())
	}
	ch, err := runner.RunTests(ctx, nil)
	if err != nil {
		return nil, err
	}
	var out []*tester.Result
	for r := range ch {
		out = append(out, r)
	}
	return out, nil
}
