// Package command is the agentidp command line (spf13/cobra): one file per
// command group. The commands that call the API (login, agents,
// credentials, token, audit) do it through the Go SDK (sdks/go), the way
// any client would; bootstrap and redis-acl wire flags to the packages that
// do their work.
package command

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sentryagent/agentidp/cli/bootstrap"
)

// Exit codes, by class of failure (docs/deploy.md).
const (
	ExitOK      = 0
	ExitFailed  = 1 // the services, or the output, failed
	ExitUsage   = 2 // wrong flags
	ExitRefused = 3 // an operator must decide (bootstrap: --force)
)

// usageError marks an error in the command line.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// noArgs is cobra.NoArgs as a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if err := cobra.NoArgs(cmd, args); err != nil {
		return usageError{err}
	}
	return nil
}

// Streams are the process's standard streams (tests pass buffers). In may
// be nil: nothing to read.
type Streams struct {
	In       io.Reader
	Out, Err io.Writer
}

// NewRoot returns the agentidp command with its subcommands.
func NewRoot(s Streams) *cobra.Command {
	root := &cobra.Command{
		Use:   "agentidp",
		Short: "Operate an AgentIdP deployment",
		Long: `agentidp operates an AgentIdP deployment: its first admin (bootstrap), its
agents, their credentials and tokens, the audit log, and the policy.

  (set -a; . .dev/env; agentidp login)   # make dev's platform admin, as profile "default"
  agentidp agents list
  agentidp agents register --name my-agent --scope agents:read
  agentidp credentials generate AGENT_ID
  agentidp audit query --follow

Output is a table; -o json or -o yaml give the API's objects, -o id the ids alone. Secrets are
printed only by credentials generate and rotate (once) and token get.

` + exitCodesHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
		// An unknown command is a usage error too (cobra's own check would
		// not say so).
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newBootstrap(s))
	root.AddCommand(newRedisACL(s))
	root.AddCommand(newLogin(s), newLogout(s))
	root.AddCommand(newAgents(s), newCredentials(s), newToken(s), newAudit(s), newPolicy(s))
	root.CompletionOptions.HiddenDefaultCmd = false
	root.AddCommand(newMeshCerts(s))
	return root
}

// Execute runs the command line args and returns the process's exit code;
// errors are printed to s.Err.
func Execute(ctx context.Context, s Streams, args []string) int {
	root := NewRoot(s)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	msg := describe(err)
	if !strings.HasPrefix(msg, "agentidp: ") { // the SDK's errors say it already
		msg = "agentidp: " + msg
	}
	fmt.Fprintln(s.Err, msg)
	var (
		u usageError
		a authError
	)
	switch {
	case errors.As(err, &u):
		return ExitUsage
	case errors.As(err, &a):
		return ExitAuth
	case errors.Is(err, bootstrap.ErrRefused):
		return ExitRefused
	}
	if code, ok := apiExitCode(err); ok {
		return code
	}
	return ExitFailed
}
