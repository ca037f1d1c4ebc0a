package command

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/sentryagent/agentidp/cli/internal/profile"
	idp "github.com/sentryagent/agentidp/sdks/go"
)

func newLogin(s Streams) *cobra.Command {
	var (
		o           apiOptions
		clientID    string
		secretStdin bool
	)
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Log in with client credentials and keep them in a profile",
		Long: `Log in as an agent with its client credentials (the platform admin's, from
agentidp bootstrap, or any agent's): the credentials are checked by getting
a token, then kept as a profile in the user's configuration directory
(` + "`os.UserConfigDir()`" + `/agentidp/config.yaml: the URL and client id) with the
secret in a file of its own, mode 0600. The profile becomes the current
one; --profile NAME keeps several side by side.

The secret is never a flag (flags show in process listings): it is read
from --client-secret-stdin, AGENTIDP_CLIENT_SECRET, AGENTIDP_CLIENT_SECRET_FILE
(a file that group or others can read is refused), or typed at the prompt.

Every other command reads its URL, client id and secret from its flags,
else AGENTIDP_URL, AGENTIDP_CLIENT_ID and AGENTIDP_CLIENT_SECRET (or
AGENTIDP_CLIENT_SECRET_FILE), else the profile.

  (set -a; . .dev/env; agentidp login)   # make dev's platform admin
  agentidp login --url https://idp.example.com --client-id ID --client-secret-stdin < secret

` + exitCodesHelp,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			name := first(o.profile, os.Getenv("AGENTIDP_PROFILE"), profile.Default)
			if err := profile.ValidName(name); err != nil {
				return usageError{err}
			}
			url := first(o.url, os.Getenv("AGENTIDP_URL"))
			clientID = first(clientID, os.Getenv("AGENTIDP_CLIENT_ID"))
			if url == "" || clientID == "" {
				return usagef("login needs --url (AGENTIDP_URL) and --client-id (AGENTIDP_CLIENT_ID)")
			}
			secret, err := loginSecret(s, secretStdin)
			if err != nil {
				return err
			}
			c, err := newClient(&identity{URL: url, ClientID: clientID, Secret: idp.Secret(secret)})
			if err != nil {
				return err
			}
			tok, err := c.Tokens.Issue(cmd.Context())
			if err != nil {
				if code, _ := apiExitCode(err); code == ExitAuth {
					return fmt.Errorf("the credentials do not work: %w", err)
				}
				return fmt.Errorf("login to %s: %w", url, err)
			}
			store, err := profile.Open()
			if err != nil {
				return err
			}
			if err := store.Login(name, url, clientID, secret); err != nil {
				return err
			}
			fmt.Fprintf(s.Out, "Logged in to %s as %s (profile %q, scopes: %s).\n", url, clientID, name, orDash(tok.Scope))
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.profile, "profile", "", "the profile to keep the login in (AGENTIDP_PROFILE; default \"default\")")
	fl.StringVar(&o.url, "url", "", "the gateway's base URL (AGENTIDP_URL)")
	fl.StringVar(&clientID, "client-id", "", "the agent's client id (AGENTIDP_CLIENT_ID)")
	fl.BoolVar(&secretStdin, "client-secret-stdin", false, "read the client secret from standard input")
	return cmd
}

// loginSecret reads the secret from the first source that has one.
func loginSecret(s Streams, stdin bool) (string, error) {
	switch {
	case stdin:
		if s.In == nil {
			return "", usagef("--client-secret-stdin: no standard input")
		}
		line, err := bufio.NewReader(io.LimitReader(s.In, 4096)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", err
		}
		if strings.TrimSpace(line) == "" {
			return "", usagef("--client-secret-stdin: standard input is empty")
		}
		return strings.TrimSpace(line), nil
	case os.Getenv("AGENTIDP_CLIENT_SECRET") != "":
		return os.Getenv("AGENTIDP_CLIENT_SECRET"), nil
	case os.Getenv("AGENTIDP_CLIENT_SECRET_FILE") != "":
		secret, err := profile.ReadSecret(os.Getenv("AGENTIDP_CLIENT_SECRET_FILE"))
		if err != nil {
			return "", authError{fmt.Errorf("AGENTIDP_CLIENT_SECRET_FILE: %w", err)}
		}
		return secret, nil
	}
	if f, ok := s.In.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(s.Err, "Client secret: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(s.Err)
		if err != nil {
			return "", err
		}
		if secret := strings.TrimSpace(string(b)); secret != "" {
			return secret, nil
		}
	}
	return "", usagef("no client secret: use --client-secret-stdin, AGENTIDP_CLIENT_SECRET or AGENTIDP_CLIENT_SECRET_FILE")
}

func newLogout(s Streams) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "logout",
		Short: "Forget a profile and delete its secret file",
		Long: `Forget a profile (--profile, else AGENTIDP_PROFILE, else the current one)
and delete its secret file. Logging out of a profile that does not exist
is not an error.`,
		Args: noArgs,
		RunE: func(*cobra.Command, []string) error {
			store, err := profile.Open()
			if err != nil {
				return err
			}
			cfg, err := store.Load()
			if err != nil {
				return err
			}
			n := (&apiOptions{profile: name}).profileName(cfg)
			existed, err := store.Logout(n)
			if err != nil {
				return err
			}
			if existed {
				fmt.Fprintf(s.Out, "Logged out of profile %q.\n", n)
			} else {
				fmt.Fprintf(s.Err, "agentidp: no profile %q\n", n)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "profile", "", "the profile to forget (AGENTIDP_PROFILE; default: the current one)")
	return cmd
}
