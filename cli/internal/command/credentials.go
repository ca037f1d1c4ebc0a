package command

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/sentryagent/agentidp/cli/internal/profile"
	idp "github.com/sentryagent/agentidp/sdks/go"
)

func newCredentials(s Streams) *cobra.Command {
	o := &apiOptions{}
	cmd := &cobra.Command{
		Use:     "credentials",
		Aliases: []string{"credential", "creds"},
		Short:   "Manage agents' client credentials (/v1/agents/{agentId}/credentials)",
		Long: `Manage agents' client credentials. generate and rotate print the new
secret once (in the table, and in -o json/yaml as clientSecret), or write
it to --secret-file (mode 0600) and print only where: keep it, it cannot
be shown again. list and revoke never show a secret.

` + exitCodesHelp,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	o.bind(cmd)
	defer withExitCodes(cmd)
	cmd.AddCommand(credentialsGenerate(s, o), credentialsList(s, o), credentialsRotate(s, o), credentialsRevoke(s, o))
	return cmd
}

// issued is an issued credential as printed: the one place where the CLI
// reveals a secret, because the operator asked for it.
type issued struct {
	Credential   idp.Credential `json:"credential"`
	ClientID     string         `json:"clientId"`
	ClientSecret string         `json:"clientSecret,omitempty"`
	// SecretFile is where --secret-file put the secret instead.
	SecretFile string `json:"secretFile,omitempty"`
}

// printIssued prints a new credential with its secret, or writes the
// secret to secretFile (mode 0600) and prints where.
func printIssued(p *printer, ic *idp.IssuedCredential, secretFile string) error {
	out := issued{Credential: ic.Credential, ClientID: ic.ClientID}
	if secretFile != "" {
		if err := profile.WriteSecret(secretFile, ic.ClientSecret.Reveal()); err != nil {
			// The secret exists only in this process now: say so, and how
			// to recover (rotate or revoke), without printing it.
			return fmt.Errorf("credential %s was issued but its secret could not be written (rotate or revoke it): %w", ic.Credential.CredentialID, err)
		}
		out.SecretFile = secretFile
	} else {
		out.ClientSecret = ic.ClientSecret.Reveal()
	}
	return p.print(out, func() [][]string {
		rows := credentialFields(&ic.Credential)
		rows = append(rows, []string{"Client ID:", ic.ClientID})
		if secretFile != "" {
			return append(rows, []string{"Client secret:", "written to " + secretFile + " (mode 0600)"})
		}
		return append(rows, []string{"Client secret:", out.ClientSecret}, []string{"", "(shown once: keep it now)"})
	})
}

func credentialFields(c *idp.Credential) [][]string {
	rot := ""
	if c.RotatedFrom != 0 {
		rot = strconv.FormatInt(c.RotatedFrom, 10)
	}
	return fields("Credential ID", c.CredentialID, "Agent ID", c.AgentID, "Status", c.Status,
		"Secret version", strconv.FormatInt(c.SecretVersion, 10), "Rotated from", rot, "Storage", c.Storage,
		"Created", ts(c.CreatedAt), "Expires", ts(c.ExpiresAt), "Last used", ts(c.LastUsedAt),
		"Rotated", ts(c.RotatedAt), "Previous secret until", ts(c.PreviousSecretExpiresAt), "Revoked", ts(c.RevokedAt))
}

func credentialsGenerate(s Streams, o *apiOptions) *cobra.Command {
	var (
		ttl        time.Duration
		secretFile string
	)
	cmd := &cobra.Command{
		Use:   "generate AGENT_ID",
		Short: "Create a credential for an active agent and print its secret once",
		Args:  exactArgs(1),
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return run(s, o, func(ctx context.Context, c *idp.Client, p *printer) error {
			if ttl < 0 || ttl%time.Second != 0 {
				return usagef("--ttl must be whole seconds, not negative")
			}
			ic, err := c.Credentials.Generate(ctx, args[0], ttl)
			if err != nil {
				return err
			}
			return printIssued(p, ic, secretFile)
		})(cmd, args)
	}
	cmd.Flags().DurationVar(&ttl, "ttl", 0, "how long the credential lives, e.g. 720h (0: it does not expire)")
	cmd.Flags().StringVar(&secretFile, "secret-file", "", "write the secret to this file (mode 0600; AGENTIDP_CLIENT_SECRET_FILE reads it) instead of printing it")
	return cmd
}

func credentialsList(s Streams, o *apiOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list AGENT_ID",
		Short: "List an agent's credentials (never their secrets)",
		Args:  exactArgs(1),
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return run(s, o, func(ctx context.Context, c *idp.Client, p *printer) error {
			list := []*idp.Credential{}
			for cr, err := range c.Credentials.List(ctx, args[0], 0) {
				if err != nil {
					return err
				}
				list = append(list, cr)
			}
			return p.print(list, func() [][]string {
				rows := [][]string{{"CREDENTIAL ID", "STATUS", "VERSION", "CREATED", "EXPIRES", "LAST USED"}}
				for _, cr := range list {
					rows = append(rows, []string{cr.CredentialID, cr.Status, strconv.FormatInt(cr.SecretVersion, 10),
						ts(cr.CreatedAt), orDash(ts(cr.ExpiresAt)), orDash(ts(cr.LastUsedAt))})
				}
				return rows
			})
		})(cmd, args)
	}
	return cmd
}

func credentialsRotate(s Streams, o *apiOptions) *cobra.Command {
	var (
		grace      time.Duration
		secretFile string
	)
	cmd := &cobra.Command{
		Use:   "rotate AGENT_ID CREDENTIAL_ID",
		Short: "Give a credential a new secret and print it once",
		Long: `Give a credential a new secret and print it once. The previous secret keeps
working for --grace (0 to 24h; 0: it stops at once).`,
		Args: exactArgs(2),
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return run(s, o, func(ctx context.Context, c *idp.Client, p *printer) error {
			if grace < 0 || grace > 24*time.Hour {
				return usagef("--grace must be between 0 and 24h")
			}
			ic, err := c.Credentials.Rotate(ctx, args[0], args[1], grace)
			if err != nil {
				return err
			}
			return printIssued(p, ic, secretFile)
		})(cmd, args)
	}
	cmd.Flags().DurationVar(&grace, "grace", 0, "how long the previous secret keeps working (at most 24h)")
	cmd.Flags().StringVar(&secretFile, "secret-file", "", "write the new secret to this file (mode 0600) instead of printing it")
	return cmd
}

func credentialsRevoke(s Streams, o *apiOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "revoke AGENT_ID CREDENTIAL_ID",
		Short: "Revoke a credential at once (repeating it is harmless)",
		Args:  exactArgs(2),
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return run(s, o, func(ctx context.Context, c *idp.Client, p *printer) error {
			cr, err := c.Credentials.Revoke(ctx, args[0], args[1])
			if err != nil {
				return err
			}
			return p.print(cr, func() [][]string { return credentialFields(cr) })
		})(cmd, args)
	}
	return cmd
}
