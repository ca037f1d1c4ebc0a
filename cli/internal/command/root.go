// Package command is the agentidp command line (spf13/cobra): one file per
// command, each wiring flags to a package that does the work, so that the
// commands of the operator CLI (issue 21) join `bootstrap` here.
package command

import (
	"context"
	"errors"
	"fmt"
	"io"

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

// Streams are the process's standard streams (tests pass buffers).
type Streams struct {
	Out, Err io.Writer
}

// NewRoot returns the agentidp command with its subcommands.
func NewRoot(s Streams) *cobra.Command {
	root := &cobra.Command{
		Use:           "agentidp",
		Short:         "Operate an AgentIdP deployment",
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
	fmt.Fprintln(s.Err, "agentidp:", err)
	var u usageError
	switch {
	case errors.As(err, &u):
		return ExitUsage
	case errors.Is(err, bootstrap.ErrRefused):
		return ExitRefused
	}
	return ExitFailed
}
