package command

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	idp "github.com/sentryagent/agentidp/sdks/go"
)

func newToken(s Streams) *cobra.Command {
	o := &apiOptions{}
	cmd := &cobra.Command{
		Use:     "token",
		Aliases: []string{"tokens"},
		Short:   "OAuth 2.0 access tokens: get, introspect, revoke (/oauth2)",
		Long: `OAuth 2.0 access tokens of the logged-in identity.

  TOKEN=$(agentidp token get)                 # the token alone on stdout
  agentidp token introspect "$TOKEN"          # or: echo "$TOKEN" | agentidp token introspect -
  agentidp token revoke - <<< "$TOKEN"

A token given as an argument shows in process listings: "-" reads it from
standard input instead.

` + exitCodesHelp,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	o.bind(cmd)
	defer withExitCodes(cmd)
	cmd.AddCommand(tokenGet(s, o), tokenIntrospect(s, o), tokenRevoke(s, o))
	return cmd
}

// issuedToken is a token response as printed: token get is asked for the
// token, so -o json/yaml reveal it.
type issuedToken struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope,omitempty"`
}

func tokenGet(s Streams, o *apiOptions) *cobra.Command {
	var scopes []string
	cmd := &cobra.Command{
		Use:   "get",
		Short: "Get an access token (client_credentials); table output prints the token alone",
		Args:  noArgs,
	}
	cmd.RunE = run(s, o, func(ctx context.Context, c *idp.Client, p *printer) error {
		t, err := c.Tokens.Issue(ctx, scopes...)
		if err != nil {
			return err
		}
		out := issuedToken{AccessToken: t.AccessToken.Reveal(), TokenType: t.TokenType, ExpiresIn: t.ExpiresIn, Scope: t.Scope}
		if p.format == "table" {
			// The token alone, for TOKEN=$(agentidp token get).
			_, err := fmt.Fprintln(s.Out, out.AccessToken)
			return err
		}
		return p.print(out, nil)
	})
	cmd.Flags().StringSliceVar(&scopes, "scope", nil, "a scope to ask for (repeat, or comma-separated; default: every scope the agent holds)")
	return cmd
}

// tokenArg is the token argument, or standard input for "-".
func tokenArg(s Streams, arg string) (idp.Secret, error) {
	if arg != "-" {
		return idp.Secret(arg), nil
	}
	if s.In == nil {
		return "", usagef("no standard input to read the token from")
	}
	line, err := bufio.NewReader(io.LimitReader(s.In, 64<<10)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", err
	}
	if t := strings.TrimSpace(line); t != "" {
		return idp.Secret(t), nil
	}
	return "", usagef("standard input holds no token")
}

func tokenIntrospect(s Streams, o *apiOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "introspect TOKEN|-",
		Short: "Describe a token (RFC 7662; needs the scope tokens:introspect)",
		Args:  exactArgs(1),
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return run(s, o, func(ctx context.Context, c *idp.Client, p *printer) error {
			tok, err := tokenArg(s, args[0])
			if err != nil {
				return err
			}
			in, err := c.Tokens.Introspect(ctx, tok)
			if err != nil {
				return err
			}
			return p.print(in, func() [][]string {
				unix := func(n int64) string {
					if n == 0 {
						return ""
					}
					return ts(time.Unix(n, 0))
				}
				return fields("Active", fmt.Sprint(in.Active), "Client ID", in.ClientID, "Subject", in.Sub,
					"Owner", in.Owner, "Scope", in.Scope, "Token type", in.TokenType, "Issued", unix(in.Iat),
					"Expires", unix(in.Exp), "Issuer", in.Iss, "Audience", join(in.Aud), "Token ID", in.Jti)
			})
		})(cmd, args)
	}
	return cmd
}

func tokenRevoke(s Streams, o *apiOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "revoke TOKEN|-",
		Short: "Revoke one of the logged-in identity's tokens (RFC 7009)",
		Args:  exactArgs(1),
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return run(s, o, func(ctx context.Context, c *idp.Client, p *printer) error {
			tok, err := tokenArg(s, args[0])
			if err != nil {
				return err
			}
			if err := c.Tokens.Revoke(ctx, tok); err != nil {
				return err
			}
			return p.print(map[string]bool{"revoked": true}, func() [][]string { return [][]string{{"Revoked."}} })
		})(cmd, args)
	}
	return cmd
}
