// Command agentidp operates an AgentIdP deployment: its first admin
// (`agentidp bootstrap`, docs/deploy.md), its agents, credentials, tokens,
// audit log and policy (cli/README.md).
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
	code := command.Execute(ctx, command.Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}, os.Args[1:])
	stop()
	os.Exit(code)
}
