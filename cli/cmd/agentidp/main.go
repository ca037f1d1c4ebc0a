// Command agentidp operates an AgentIdP deployment. Today it has one
// command, `agentidp bootstrap`, which gives a fresh deployment its first
// platform admin (docs/deploy.md).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/sentryagent/agentidp/cli/internal/command"
)

func main() {
	// Ctrl-C or SIGTERM cancels the run; a credential created by then is
	// revoked again before the process exits (package bootstrap).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := command.Execute(ctx, command.Streams{Out: os.Stdout, Err: os.Stderr}, os.Args[1:])
	stop()
	os.Exit(code)
}
