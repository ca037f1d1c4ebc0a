// Package policytest runs the Rego tests of a policy directory exactly as
// the authz service does before it accepts a policy (the same loading of
// modules and data/, the same built-in functions such as
// agentidp.match_route, the same timeout), for tools outside the service:
// `agentidp policy test` (cli/). It is the public face of the service's
// internal policy package.
package policytest

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/sentryagent/agentidp/services/authz/internal/policy"
)

// Result is one Rego test's outcome.
type Result struct {
	Package  string        `json:"package"`
	Name     string        `json:"name"`
	Location string        `json:"location"`
	Pass     bool          `json:"pass"`
	Skip     bool          `json:"skip,omitempty"` // a todo_ test
	Error    string        `json:"error,omitempty"`
	Duration time.Duration `json:"durationNs"`
}

// Report is a run over one directory.
type Report struct {
	Dir      string   `json:"dir"`
	Revision string   `json:"revision"`
	Results  []Result `json:"results"`
	Passed   int      `json:"passed"`
	Failed   int      `json:"failed"`
	Skipped  int      `json:"skipped"`
}

// Run loads dir and runs its tests (those whose "package.name" run
// matches, if run is not nil). A directory that does not load or compile
// is an error; failing tests are in the report.
func Run(ctx context.Context, dir string, run *regexp.Regexp) (*Report, error) {
	b, err := policy.Load(dir)
	if err != nil {
		return nil, err
	}
	rs, err := policy.TestResults(ctx, b, run)
	if err != nil {
		return nil, fmt.Errorf("compile with tests: %w", err)
	}
	rep := &Report{Dir: dir, Revision: b.Revision, Results: []Result{}}
	for _, r := range rs {
		res := Result{Package: r.Package, Name: r.Name, Pass: r.Pass(), Skip: r.Skip, Duration: r.Duration}
		if r.Location != nil {
			res.Location = fmt.Sprintf("%s:%d", r.Location.File, r.Location.Row)
		}
		switch {
		case r.Error != nil:
			res.Error = r.Error.Error()
		case r.Fail:
			res.Error = "failed"
		}
		switch {
		case res.Skip:
			rep.Skipped++
		case res.Pass:
			rep.Passed++
		default:
			rep.Failed++
		}
		rep.Results = append(rep.Results, res)
	}
	return rep, nil
}
