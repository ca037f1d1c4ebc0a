// The operator command `credentials legacy-secrets list|retire`
// (docs/credentials.md): it works on the database directly, not through a
// running server.

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"github.com/sentryagent/agentidp/libs/config"
	"github.com/sentryagent/agentidp/libs/postgres"
	"github.com/sentryagent/agentidp/libs/requestinfo"
	"github.com/sentryagent/agentidp/services/credentials/internal/credential"
	pgstore "github.com/sentryagent/agentidp/services/credentials/internal/store/postgres"
)

// usageError is a command's usage text, printed as it is: several lines,
// unlike an error message.
type usageError string

func (u usageError) Error() string { return string(u) }

// legacyUsage documents the operator command (docs/credentials.md).
const legacyUsage = `usage: credentials legacy-secrets list
       credentials legacy-secrets retire (-all | -credential ID [-credential ID ...]) [-dry-run]

Phase-1 secrets are verified with bcrypt until they are next presented
(then their verifier becomes sha256). list shows the ones left; retire makes
them stop working: a credential whose current secret is one is revoked, a
rotated one loses its old secret (its grace period ends now). Both go
through the change feed. Reads DATABASE_URL.`

// legacyConfig is what the command reads from the environment.
type legacyConfig struct {
	DatabaseURL string `env:"DATABASE_URL,required"`
}

// legacySecretsMain runs `credentials legacy-secrets ...` as a process:
// the exit code is 0, or 2 with the error (or the usage) on stderr.
func legacySecretsMain(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := legacySecrets(ctx, args, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "credentials legacy-secrets:", err)
		return 2
	}
	return 0
}

// legacySecrets runs `credentials legacy-secrets ...`.
func legacySecrets(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 || (args[0] != "list" && args[0] != "retire") {
		return usageError(legacyUsage)
	}
	fs := flag.NewFlagSet("legacy-secrets "+args[0], flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	all := fs.Bool("all", false, "retire every legacy secret")
	dryRun := fs.Bool("dry-run", false, "say what would be retired, change nothing")
	var only credentialIDs
	fs.Var(&only, "credential", "retire this credential's legacy secrets (repeatable)")
	if err := fs.Parse(args[1:]); err != nil || fs.NArg() > 0 {
		return usageError(legacyUsage)
	}
	if args[0] == "retire" && *all == (len(only) > 0) {
		return usageError("retire: give either -all or one or more -credential ID\n\n" + legacyUsage)
	}
	cfg, err := config.Load[legacyConfig]()
	if err != nil {
		return err
	}
	pool, err := postgres.Open(ctx, postgres.Config{URL: cfg.DatabaseURL}, nil)
	if err != nil {
		return err
	}
	defer pool.Close()
	store := pgstore.New(pool)
	if args[0] == "list" {
		return listLegacy(ctx, store, out)
	}
	return retireLegacy(ctx, store, only, *dryRun, out)
}

func listLegacy(ctx context.Context, store credential.LegacyStore, out io.Writer) error {
	list, err := store.LegacySecrets(ctx, time.Now())
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "AGENT\tCREDENTIAL\tVERSION\tSECRET\tCREATED\tLAST USED")
	for _, l := range list {
		which := "current"
		if !l.Current {
			which = "previous, until " + l.GraceEnds.Format(time.RFC3339)
		}
		used := "never"
		if l.LastUsedAt != nil {
			used = l.LastUsedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\t%s\n", l.AgentID, l.CredentialID, l.Version, which, l.CreatedAt.Format(time.RFC3339), used)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "%d legacy (bcrypt) secret(s)\n", len(list))
	return err
}

func retireLegacy(ctx context.Context, store credential.LegacyStore, only credentialIDs, dryRun bool, out io.Writer) error {
	// The change feed and the audit log record who did it.
	ctx = requestinfo.With(ctx, requestinfo.Info{Actor: requestinfo.System,
		RequestID: "legacy-secrets-retire-" + time.Now().UTC().Format("20060102T150405Z")})
	list, err := store.LegacySecrets(ctx, time.Now())
	if err != nil {
		return err
	}
	done := 0
	for _, l := range list {
		if len(only) > 0 && !only.has(l.CredentialID) {
			continue
		}
		action := "revoke credential"
		if !l.Current {
			action = "end the grace period of"
		}
		if dryRun {
			fmt.Fprintf(out, "would %s %s (agent %s)\n", action, l.CredentialID, l.AgentID)
			continue
		}
		changed, err := credential.RetireLegacy(ctx, store, l, time.Now().UTC().Truncate(time.Microsecond))
		if err != nil {
			return fmt.Errorf("%s %s: %w", action, l.CredentialID, err)
		}
		if changed {
			done++
			fmt.Fprintf(out, "%s %s (agent %s): done\n", action, l.CredentialID, l.AgentID)
		}
	}
	_, err = fmt.Fprintf(out, "%d legacy secret(s) retired\n", done)
	return err
}

// credentialIDs is a repeatable -credential flag.
type credentialIDs []uuid.UUID

func (c *credentialIDs) String() string {
	s := make([]string, len(*c))
	for i, id := range *c {
		s[i] = id.String()
	}
	return strings.Join(s, ",")
}

func (c *credentialIDs) Set(v string) error {
	id, err := uuid.Parse(v)
	if err != nil {
		return fmt.Errorf("%q is not a credential id", v)
	}
	*c = append(*c, id)
	return nil
}

func (c credentialIDs) has(id uuid.UUID) bool {
	for _, x := range c {
		if x == id {
			return true
		}
	}
	return false
}
