package bootstrap

import (
	"context"
	"fmt"
	"io"
	"strings"
)

// Stdout hands the secret over by printing it once, framed, as
// VARIABLE=value lines at the start of a line, so that an operator can
// keep exactly those lines:
//
//	docker compose logs --no-log-prefix bootstrap | grep '^AGENTIDP_' > admin.env
//
// It holds nothing: a later run cannot tell whether the operator kept the
// secret, and never prints it again.
type Stdout struct {
	W io.Writer
}

var _ Output = (*Stdout)(nil)

func (o *Stdout) String() string { return "standard output" }

// Load holds nothing.
func (o *Stdout) Load(context.Context) (Credential, Version, error) { return Credential{}, "", nil }

// Prepare has nothing to check.
func (o *Stdout) Prepare(context.Context) error { return nil }

// Save prints the credential between two rules. It cannot tell whether
// another bootstrap printed one elsewhere at the same time.
func (o *Stdout) Save(_ context.Context, c Credential, _ Version) error {
	rule := strings.Repeat("=", 78)
	var b strings.Builder
	fmt.Fprintf(&b, "%s\nAgentIdP: the first platform admin's credential. It is shown this once:\n", rule)
	fmt.Fprintf(&b, "store it in your secret manager now (docs/deploy.md).\n\n")
	if c.URL != "" {
		fmt.Fprintf(&b, "%s=%s\n", VarURL, c.URL)
	}
	fmt.Fprintf(&b, "%s=%s\n%s=%s\n\n%s\n", VarClientID, c.ClientID, VarClientSecret, c.ClientSecret.Reveal(), rule)
	_, err := io.WriteString(o.W, b.String())
	return err
}
