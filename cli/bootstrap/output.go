package bootstrap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
)

// Output is where the admin's secret goes: standard output, an env file, a
// Kubernetes Secret (package kubesecret), a Vault KV entry (package vaultkv).
type Output interface {
	// String names the destination in messages ("env file .dev/env").
	String() string
	// Load returns the credential the destination holds (a zero Credential
	// when it holds none, or cannot hold one: standard output) and the
	// destination's Version.
	Load(ctx context.Context) (Credential, Version, error)
	// Prepare checks, before a credential is created, that Save can
	// succeed (the directory is writable, the Secret may be written), so
	// that a credential is rarely created only to be revoked again.
	Prepare(ctx context.Context) error
	// Save hands the credential over, replacing what Load saw: it fails
	// with ErrChanged when the destination is no longer at the Version
	// since (another bootstrap wrote it meanwhile). Outputs that cannot
	// tell say so in their doc.
	Save(ctx context.Context, c Credential, since Version) error
}

// Version identifies what an Output's destination held when Load read it,
// for Save's compare-and-set (a Secret's resourceVersion, a KV entry's
// version); "" when it did not exist.
type Version string

// ErrChanged is returned (wrapped) by Save when the destination changed
// since Load: two bootstraps wrote to one destination at once, and this
// one lost.
var ErrChanged = errors.New("the output changed since it was read")

// Holder is implemented by Outputs that can hold a secret to compare with
// on the next run (every Output but standard output). RotateIfMissing needs
// one.
type Holder interface {
	Holds() bool
}

// Credential is what an Output receives: the variables a client of the API
// needs (docs/deploy.md).
type Credential struct {
	URL          string // AGENTIDP_URL: the gateway's public base URL ("" if not given)
	ClientID     string // AGENTIDP_CLIENT_ID: the admin's agent id
	ClientSecret Secret // AGENTIDP_CLIENT_SECRET
	CredentialID string // which of the admin's credentials this is
}

// The variable names every Output uses for a credential (env file lines,
// Secret and Vault keys), so one `envFrom` or `source` serves them all.
const (
	VarURL          = "AGENTIDP_URL"
	VarClientID     = "AGENTIDP_CLIENT_ID"
	VarClientSecret = "AGENTIDP_CLIENT_SECRET"
)

// Complete reports whether c is a credential at all (an id and a secret).
func (c Credential) Complete() bool { return c.ClientID != "" && c.ClientSecret != "" }

// Vars returns the credential as variables (AGENTIDP_URL only when set).
func (c Credential) Vars() map[string]string {
	m := map[string]string{VarClientID: c.ClientID, VarClientSecret: c.ClientSecret.Reveal()}
	if c.URL != "" {
		m[VarURL] = c.URL
	}
	return m
}

// Secret is a client secret. It hides itself from fmt, log/slog and JSON,
// like the Go SDK's idp.Secret, so that only a deliberate Reveal puts it
// anywhere: a credential can be logged or wrapped into an error safely.
type Secret string

const redacted = "[REDACTED]"

// Reveal returns the secret itself.
func (s Secret) Reveal() string { return string(s) }

// String hides the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// Format hides the value from every fmt verb.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, s.String()) }

// LogValue hides the value from log/slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON hides the value.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }
