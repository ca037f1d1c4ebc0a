package command

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sentryagent/agentidp/services/authz/policytest"
)

func newPolicy(s Streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Work on the authorization policy (Rego)",
		Args:  noArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(policyTest(s))
	return cmd
}

// errTestsFailed is policy test's failure: exit 1, the failures printed.
var errTestsFailed = fmt.Errorf("policy tests failed")

func policyTest(s Streams) *cobra.Command {
	var (
		run     string
		verbose bool
		output  string
	)
	cmd := &cobra.Command{
		Use:   "test [DIR]",
		Short: "Run the Rego tests of a policy directory as the authz service does",
		Long: `Run the Rego tests of a policy directory (default: policies) with OPA's Go
library exactly as the authz service does before it accepts a policy: every
*.rego file is a module (*_test.rego are tests), data/**/*.json is mounted
at data.<path>, and the service's built-in functions (agentidp.match_route,
agentidp.path_params) are there. No server is called.

Exit codes: 0 every test passed, 1 a test failed, 2 usage, or a directory
that does not load or compile.`,
		Args: rangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := (&apiOptions{output: output}).printer(s)
			if err != nil {
				return err
			}
			dir := "policies"
			if len(args) == 1 {
				dir = args[0]
			}
			var re *regexp.Regexp
			if run != "" {
				if re, err = regexp.Compile(run); err != nil {
					return usagef("--run: %v", err)
				}
			}
			// A symlinked directory (a checkout's link, a mounted volume)
			// is read where it points: the loader walks real directories.
			real := dir
			if r, err := filepath.EvalSymlinks(dir); err == nil {
				real = r
			}
			rep, err := policytest.Run(cmd.Context(), real, re)
			if err != nil {
				return usageError{fmt.Errorf("%s: %w", dir, err)}
			}
			rep.Dir = dir
			err = p.print(rep, func() [][]string {
				rows := [][]string{}
				if verbose || rep.Failed > 0 {
					rows = append(rows, []string{"RESULT", "TEST", "LOCATION", "DURATION", "ERROR"})
					for _, r := range rep.Results {
						if r.Pass && !verbose {
							continue
						}
						res := "PASS"
						switch {
						case r.Skip:
							res = "SKIP"
						case !r.Pass:
							res = "FAIL"
						}
						rows = append(rows, []string{res, r.Package + "." + r.Name, r.Location, r.Duration.String(), orDash(r.Error)})
					}
				}
				summary := fmt.Sprintf("%d passed, %d failed", rep.Passed, rep.Failed)
				if rep.Skipped > 0 {
					summary += fmt.Sprintf(", %d skipped", rep.Skipped)
				}
				return append(rows, []string{strings.TrimSpace("policy " + rep.Dir + " (revision " + rep.Revision + "): " + summary)})
			})
			if err == nil && rep.Failed > 0 {
				return errTestsFailed
			}
			return err
		},
	}
	cmd.Flags().StringVar(&run, "run", "", "run only the tests whose package.name matches this regular expression")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "list every test, not only the failures")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table, json or yaml")
	return cmd
}
