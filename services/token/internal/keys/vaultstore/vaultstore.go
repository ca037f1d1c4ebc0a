// Package vaultstore keeps the signing keys in HashiCorp Vault KV v2, at
// <mount>/agentidp/token/signing-keys, written with check-and-set so that
// replicas rotating at the same moment cannot overwrite each other.
package vaultstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/sentryagent/agentidp/services/token/internal/keys"
)

// Path is where the keys live under the KV v2 mount.
const Path = "agentidp/token/signing-keys"

// Config locates Vault.
type Config struct {
	// Addr is VAULT_ADDR. TLS and the other client settings come from
	// Vault's usual variables (VAULT_CACERT, VAULT_CLIENT_CERT,
	// VAULT_NAMESPACE, ...), read by the Vault client as the vault CLI and
	// the credentials service read them.
	Addr    string
	Token   string
	Mount   string // KV v2 mount; default "secret"
	Timeout time.Duration
}

// Store is a keys.Store over Vault's official client (github.com/hashicorp/
// vault/api, the version the credentials service uses).
type Store struct {
	kv     *api.KVv2
	client *api.Client
}

var _ keys.Store = (*Store)(nil)

// New builds the client. Nothing is sent to Vault until the first Load.
func New(cfg Config) (*Store, error) {
	if cfg.Mount == "" {
		cfg.Mount = "secret"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	conf := api.DefaultConfig()
	if conf.Error != nil {
		return nil, fmt.Errorf("vault: client settings (VAULT_CACERT, ...): %w", conf.Error)
	}
	conf.Address = cfg.Addr
	conf.Timeout = cfg.Timeout
	// No automatic retries: the key manager retries on its own schedule,
	// and a check-and-set write is never sent twice behind its back.
	conf.MaxRetries = 0
	client, err := api.NewClient(conf)
	if err != nil {
		return nil, fmt.Errorf("vault: VAULT_ADDR %q: %w", cfg.Addr, err)
	}
	client.SetToken(cfg.Token)
	return &Store{kv: client.KVv2(cfg.Mount), client: client}, nil
}

// Client is the Vault client the store uses (its token and settings), for
// the transit signer to share.
func (s *Store) Client() *api.Client { return s.client }

// Load reads the latest version. Nothing stored yet is version 0; a latest
// version that was deleted reads as an empty doc of that version, which is
// the version check-and-set must name.
func (s *Store) Load(ctx context.Context) (keys.Doc, int64, error) {
	secret, err := s.kv.Get(ctx, Path)
	if errors.Is(err, api.ErrSecretNotFound) {
		return keys.Doc{}, 0, nil
	}
	if err != nil {
		return keys.Doc{}, 0, fmt.Errorf("vault: read %s: %w", Path, err)
	}
	var version int64
	if secret.VersionMetadata != nil {
		version = int64(secret.VersionMetadata.Version)
	}
	if secret.Data == nil {
		return keys.Doc{}, version, nil
	}
	var doc keys.Doc
	if err := convert(secret.Data, &doc); err != nil {
		return keys.Doc{}, 0, fmt.Errorf("vault: read %s: %w", Path, err)
	}
	return doc, version, nil
}

// Save writes doc if the stored version is still version.
func (s *Store) Save(ctx context.Context, doc keys.Doc, version int64) error {
	var data map[string]any
	if err := convert(doc, &data); err != nil {
		return err
	}
	_, err := s.kv.Put(ctx, Path, data, api.WithCheckAndSet(int(version)))
	if err == nil {
		return nil
	}
	var re *api.ResponseError
	if errors.As(err, &re) && re.StatusCode == http.StatusBadRequest {
		// Vault answers a check-and-set mismatch with a plain 400; tell it
		// from other 400s by the version, not by the message.
		if _, now, lerr := s.Load(ctx); lerr == nil && now != version {
			return keys.ErrConflict
		}
	}
	return fmt.Errorf("vault: write %s: %w", Path, err)
}

// convert moves the doc between its Go form and the JSON object the KV
// client reads and writes.
func convert(from, to any) error {
	b, err := json.Marshal(from)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, to)
}
