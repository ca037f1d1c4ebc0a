// Command devstack runs the AgentIdP mesh locally for `make dev`: real
// PostgreSQL, Redis, every service, the control plane and Envoy on
// 127.0.0.1, until Ctrl-C, then stops everything it started.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/sentryagent/agentidp/deploy/local/stack"
)

func main() {
	dir := flag.String("dir", ".dev", "state directory: data, logs, binaries")
	reset := flag.Bool("reset", false, "delete the state directory (all local data) and exit")
	withMonitoring := flag.Bool("monitoring", os.Getenv("MONITORING") == "1", "also run Prometheus on 127.0.0.1:9090 (MONITORING=1)")
	flag.Parse()
	if *reset {
		if err := stack.Reset(*dir); err != nil {
			fmt.Fprintln(os.Stderr, "devstack:", err)
			os.Exit(1)
		}
		fmt.Println("local AgentIdP data deleted:", *dir)
		return
	}
	if err := run(*dir, *withMonitoring); err != nil {
		fmt.Fprintln(os.Stderr, "devstack:", err)
		os.Exit(1)
	}
}

func run(dir string, withMonitoring bool) error {
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	replicas := map[string]int{}
	for _, name := range []string{"TOKEN_REPLICAS", "AUTHZ_REPLICAS"} {
		replicas[name] = 1
		if v := os.Getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 16 {
				return fmt.Errorf("%s: %q is not a number from 1 to 16", name, v)
			}
			replicas[name] = n
		}
	}
	// AGENTIDP_TOKEN_SIGNING=transit: Vault's transit engine signs the
	// tokens (docs/token.md); unset or local, a key stored in Vault KV.
	s, err := stack.Start(ctx, stack.Config{Dir: dir, Ports: stack.DefaultPorts, Durable: true, Logger: logger,
		TokenReplicas: replicas["TOKEN_REPLICAS"], AuthzReplicas: replicas["AUTHZ_REPLICAS"],
		TokenSigning: os.Getenv("AGENTIDP_TOKEN_SIGNING")})
	if err != nil {
		return err
	}
	defer func() {
		fmt.Fprintln(os.Stderr, "\nstopping AgentIdP ...")
		s.Stop()
		fmt.Fprintln(os.Stderr, "stopped.")
	}()

	monitoringLine := ""
	if withMonitoring {
		url, err := s.StartMonitoring(ctx, 9090)
		if err != nil {
			return err
		}
		monitoringLine = fmt.Sprintf("  Prometheus           %s   (alerts: %s/alerts)\n", url, url)
	}

	dashboardNote := "(sign in with the platform admin below)"
	if !s.DashboardBuilt() {
		dashboardNote = "(not built: install Node.js 20 and run scripts/dashboard.sh build)"
	}

	envFile := filepath.Join(s.Dir(), "env")
	admin, err := s.BootstrapAdmin(ctx, envFile)
	if err != nil {
		return err
	}
	fmt.Printf(`
AgentIdP is running.

  Gateway (REST API)   %[1]s
  Dashboard            %[1]s/   %[8]s
  Readiness            %[1]s/readyz
  Envoy admin          http://127.0.0.1:%[2]d
%[7]s  Logs                 %[3]s
  Environment          %[4]s   (source it: . %[4]s)
  Platform admin       client_id     %[5]s
  (every scope)        client_secret %[6]s   (agentidp bootstrap; docs/deploy.md)

Every /v1 call needs a token (policies/ decides; edits apply live):
  . %[4]s
  TOKEN=$(curl -s -u "$AGENTIDP_CLIENT_ID:$AGENTIDP_CLIENT_SECRET" -d grant_type=client_credentials \
    %[1]s/oauth2/token | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  curl -s -H "Authorization: Bearer $TOKEN" %[1]s/v1/agents

Press Ctrl-C to stop.
`, s.GatewayURL(), stack.DefaultPorts.EnvoyAdmin, s.LogDir(), envFile, admin.ClientID, admin.ClientSecret, monitoringLine, dashboardNote)
	<-ctx.Done()
	return nil
}
