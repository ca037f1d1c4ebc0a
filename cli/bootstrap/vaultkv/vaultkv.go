// Package vaultkv hands the platform admin's credential over as an entry of
// a Vault KV v2 mount: the secret store every AgentIdP deployment already
// runs (client secrets and signing keys live there), so the Terraform
// deployments on AWS and Google Cloud use it the same way.
package vaultkv

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/hashicorp/vault/api"

	"github.com/sentryagent/agentidp/cli/bootstrap"
)

// KV is one entry: mount/path. Its data are the keys AGENTIDP_URL,
// AGENTIDP_CLIENT_ID, AGENTIDP_CLIENT_SECRET and credential_id; each
// hand-over is a new KV version, so the history stays in Vault.
type KV struct {
	client *api.Client
	mount  string
	path   string
}

var (
	_ bootstrap.Output = (*KV)(nil)
	_ bootstrap.Holder = (*KV)(nil)
)

const keyCredentialID = "credential_id"

// New returns the entry path of the KV v2 mount, through client (its
// address and token: VAULT_ADDR and VAULT_TOKEN).
func New(client *api.Client, mount, path string) *KV {
	return &KV{client: client, mount: mount, path: path}
}

func (k *KV) String() string { return fmt.Sprintf("Vault KV entry %s/%s", k.mount, k.path) }

// Holds: the entry keeps the secret for the next run to check.
func (k *KV) Holds() bool { return true }

// Load reads the entry's current version; a missing entry holds nothing.
// The Version is the KV version number (also of a deleted or destroyed
// current version, which holds nothing: Vault still reports its number).
func (k *KV) Load(ctx context.Context) (bootstrap.Credential, bootstrap.Version, error) {
	s, err := k.client.KVv2(k.mount).Get(ctx, k.path)
	if errors.Is(err, api.ErrSecretNotFound) {
		return bootstrap.Credential{}, "", nil
	}
	if err != nil {
		return bootstrap.Credential{}, "", err
	}
	str := func(key string) string { v, _ := s.Data[key].(string); return v }
	c := bootstrap.Credential{
		URL: str(bootstrap.VarURL), ClientID: str(bootstrap.VarClientID),
		ClientSecret: bootstrap.Secret(str(bootstrap.VarClientSecret)), CredentialID: str(keyCredentialID),
	}
	return c, bootstrap.Version(strconv.Itoa(s.VersionMetadata.Version)), nil
}

// Prepare asks Vault what the token may do on the entry: writing it needs
// create (a new entry) or update (a new version).
func (k *KV) Prepare(ctx context.Context) error {
	dataPath := k.mount + "/data/" + k.path
	caps, err := k.client.Sys().CapabilitiesSelfWithContext(ctx, dataPath)
	if err != nil {
		return fmt.Errorf("ask Vault for the token's capabilities on %s: %w", dataPath, err)
	}
	if slices.Contains(caps, "root") || (slices.Contains(caps, "create") && slices.Contains(caps, "update")) {
		return nil
	}
	return fmt.Errorf("the Vault token may %v on %s; it needs create, read and update (docs/deploy.md)", caps, dataPath)
}

// RenewToken renews the client's token if it is renewable, and reports
// whether it was. A bootstrap's token is used rarely (once per deployment,
// or once per Cloud Run instance): a periodic token renewed by each run
// stays valid as long as runs come within its period. A token that cannot
// be renewed (a plain TTL, root) is no error.
func (k *KV) RenewToken(ctx context.Context) (bool, error) {
	self, err := k.client.Auth().Token().LookupSelfWithContext(ctx)
	if err != nil {
		return false, fmt.Errorf("look up the Vault token: %w", err)
	}
	if ok, _ := self.TokenIsRenewable(); !ok {
		return false, nil
	}
	if _, err := k.client.Auth().Token().RenewSelfWithContext(ctx, 0); err != nil {
		return false, fmt.Errorf("renew the Vault token: %w", err)
	}
	return true, nil
}

// Save writes a new version of the entry with KV v2's check-and-set: only
// if the entry is still at version since (absent, for ""). Vault refuses
// otherwise; a refusal with the entry moved on is ErrChanged.
func (k *KV) Save(ctx context.Context, c bootstrap.Credential, since bootstrap.Version) error {
	data := map[string]any{keyCredentialID: c.CredentialID}
	for key, v := range c.Vars() {
		data[key] = v
	}
	cas := 0
	if since != "" {
		n, err := strconv.Atoi(string(since))
		if err != nil {
			return fmt.Errorf("version %q of %s: %w", since, k, err)
		}
		cas = n
	}
	_, err := k.client.KVv2(k.mount).Put(ctx, k.path, data, api.WithCheckAndSet(cas))
	if err != nil {
		// Vault answers a failed check-and-set like any bad request: look
		// at the entry instead of at the message.
		if _, now, lerr := k.Load(ctx); lerr == nil && now != since {
			return fmt.Errorf("%s changed meanwhile: %w", k, bootstrap.ErrChanged)
		}
	}
	return err
}
