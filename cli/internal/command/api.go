package command

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sentryagent/agentidp/cli/internal/profile"
	idp "github.com/sentryagent/agentidp/sdks/go"
)

// exitCodesHelp is shown by --help of every command that calls the API,
// and by the root command.
const exitCodesHelp = `Exit codes:
  0  done
  1  failed (anything not below; audit verify: the chain is broken)
  2  usage: wrong flags or arguments, or a request the API refused as invalid (400)
  3  auth: not logged in, a refused credential or token, a missing scope or
     a denied policy (401, 403); bootstrap: refused, see --force
  4  not found (404): no such agent, credential or event -- or one of
     another owner, which the API does not tell apart
  5  conflict (409, and state conflicts such as a suspended or
     decommissioned agent, an etag that no longer matches)
  6  unavailable: no answer, a timeout, rate limited or a 5xx after retries`

// Exit codes of the commands that call the API (exitCodesHelp).
const (
	ExitAuth        = 3
	ExitNotFound    = 4
	ExitConflict    = 5
	ExitUnavailable = 6
)

// authError marks a local failure to authenticate (no login, a secret
// file with loose permissions).
type authError struct{ error }

func (e authError) Unwrap() error { return e.error }

// conflicts are API error codes of requests that met the resource in a
// state that forbids them: exit 5 like a 409.
var conflicts = map[string]bool{
	"ETAG_MISMATCH": true, "ALREADY_EXISTS": true, "ABORTED": true,
	"AGENT_NOT_ACTIVE": true, "AGENT_DECOMMISSIONED": true, "INVALID_STATUS_TRANSITION": true,
	"CREDENTIAL_NOT_ACTIVE": true, "ROTATION_IN_PROGRESS": true, "FAILED_PRECONDITION": true,
}

// authCodes are the OAuth errors that mean the caller may not do this.
var authCodes = map[string]bool{
	"invalid_client": true, "invalid_grant": true, "unauthorized_client": true,
	"invalid_scope": true, "insufficient_scope": true, "invalid_token": true,
	"UNAUTHENTICATED": true, "PERMISSION_DENIED": true,
}

// apiExitCode classifies an API error; ok is false for other errors.
func apiExitCode(err error) (code int, ok bool) {
	var e *idp.AgentIdPError
	if !errors.As(err, &e) {
		return 0, false
	}
	switch {
	case conflicts[e.Code]:
		return ExitConflict, true
	case authCodes[e.Code] || e.HTTPStatus == http.StatusUnauthorized || e.HTTPStatus == http.StatusForbidden:
		return ExitAuth, true
	case e.HTTPStatus == http.StatusNotFound || strings.HasSuffix(e.Code, "_NOT_FOUND"):
		return ExitNotFound, true
	case e.HTTPStatus == http.StatusConflict || e.HTTPStatus == http.StatusPreconditionFailed:
		return ExitConflict, true
	case e.HTTPStatus == 0 && e.Code == "INVALID_ARGUMENT", e.HTTPStatus == http.StatusBadRequest:
		return ExitUsage, true
	case e.HTTPStatus == 0, e.HTTPStatus == http.StatusTooManyRequests, e.HTTPStatus >= 500:
		return ExitUnavailable, true
	}
	return ExitFailed, true
}

// describe adds the request id to an API error, to quote when reporting.
func describe(err error) string {
	var e *idp.AgentIdPError
	if errors.As(err, &e) && e.RequestID != "" {
		return fmt.Sprintf("%v (request id %s)", err, e.RequestID)
	}
	return err.Error()
}

// apiOptions are the flags every command that calls the API shares.
type apiOptions struct {
	profile string
	url     string
	output  string
}

// bind adds --profile, --url and --output to cmd and its subcommands.
func (o *apiOptions) bind(cmd *cobra.Command) {
	fl := cmd.PersistentFlags()
	fl.StringVar(&o.profile, "profile", "", "the login to use (AGENTIDP_PROFILE; default: the current profile)")
	fl.StringVar(&o.url, "url", "", "the gateway's base URL (AGENTIDP_URL; default: the profile's)")
	fl.StringVarP(&o.output, "output", "o", "table", "output format: table, json, yaml, or id (the ids alone, one per line)")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"table", "json", "yaml", "id"}, cobra.ShellCompDirectiveNoFileComp))
}

// printer checks --output and returns the printer for it.
func (o *apiOptions) printer(s Streams) (*printer, error) {
	switch o.output {
	case "table", "json", "yaml", "id":
		return &printer{format: o.output, w: s.Out}, nil
	}
	return nil, usagef("--output %q: want table, json, yaml or id", o.output)
}

// identity is who a command calls the API as, and where.
type identity struct {
	Profile  string
	URL      string
	ClientID string
	Secret   idp.Secret
}

// profileName is --profile, AGENTIDP_PROFILE, the current profile, or
// "default".
func (o *apiOptions) profileName(cfg *profile.Config) string {
	switch {
	case o.profile != "":
		return o.profile
	case os.Getenv("AGENTIDP_PROFILE") != "":
		return os.Getenv("AGENTIDP_PROFILE")
	case cfg != nil && cfg.Current != "":
		return cfg.Current
	}
	return profile.Default
}

// resolve finds the identity: each of the URL, the client id and the
// secret from its flag, else the environment, else the profile.
func (o *apiOptions) resolve() (*identity, error) {
	store, err := profile.Open()
	if err != nil {
		return nil, err
	}
	cfg, err := store.Load()
	if err != nil {
		return nil, err
	}
	id := &identity{Profile: o.profileName(cfg)}
	p, havep := cfg.Profiles[id.Profile]
	if o.profile != "" && !havep {
		return nil, authError{fmt.Errorf("no profile %q: run agentidp login --profile %s", o.profile, o.profile)}
	}
	id.URL = first(o.url, os.Getenv("AGENTIDP_URL"), p.URL)
	envID := os.Getenv("AGENTIDP_CLIENT_ID")
	id.ClientID = first(envID, p.ClientID)
	switch {
	case os.Getenv("AGENTIDP_CLIENT_SECRET") != "":
		id.Secret = idp.Secret(os.Getenv("AGENTIDP_CLIENT_SECRET"))
	case os.Getenv("AGENTIDP_CLIENT_SECRET_FILE") != "":
		s, err := profile.ReadSecret(os.Getenv("AGENTIDP_CLIENT_SECRET_FILE"))
		if err != nil {
			return nil, authError{fmt.Errorf("AGENTIDP_CLIENT_SECRET_FILE: %w", err)}
		}
		id.Secret = idp.Secret(s)
	case havep && (envID == "" || envID == p.ClientID):
		s, err := profile.ReadSecret(store.SecretPath(p))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, authError{fmt.Errorf("profile %q lost its secret file: run agentidp login again", id.Profile)}
			}
			return nil, authError{err}
		}
		id.Secret = idp.Secret(s)
	}
	if id.URL == "" || id.ClientID == "" || id.Secret == "" {
		return nil, authError{fmt.Errorf("not logged in (profile %q): run agentidp login, or set AGENTIDP_URL, AGENTIDP_CLIENT_ID and AGENTIDP_CLIENT_SECRET", id.Profile)}
	}
	return id, nil
}

// client returns an SDK client for the resolved identity.
func (o *apiOptions) client() (*idp.Client, error) {
	id, err := o.resolve()
	if err != nil {
		return nil, err
	}
	return newClient(id)
}

func newClient(id *identity) (*idp.Client, error) {
	c, err := idp.New(idp.Config{BaseURL: id.URL, ClientID: id.ClientID, ClientSecret: id.Secret,
		Timeout: 30 * time.Second, UserAgent: "agentidp-cli"})
	if err != nil {
		return nil, usageError{err}
	}
	return c, nil
}

func first(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// withExitCodes appends the exit codes to the help of cmd's subcommands
// (the group's own help has them already).
func withExitCodes(cmd *cobra.Command) *cobra.Command {
	for _, c := range cmd.Commands() {
		long := c.Long
		if long == "" {
			long = c.Short + "."
		}
		c.Long = long + "\n\n" + exitCodesHelp
	}
	return cmd
}

// exactArgs is cobra.ExactArgs as a usage error.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}

// rangeArgs is cobra.RangeArgs as a usage error.
func rangeArgs(lo, hi int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.RangeArgs(lo, hi)(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}
