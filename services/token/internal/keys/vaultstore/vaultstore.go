// Package vaultstore keeps the signing keys in HashiCorp Vault KV v2, at
// <mount>/agentidp/token/signing-keys, written with check-and-set so that
// replicas rotating at the same moment cannot overwrite each other.
package vaultstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/sentryagent/agentidp/services/token/internal/keys"
)

// Path is where the keys live under the KV v2 mount.
const Path = "agentidp/token/signing-keys"

// Config locates Vault.
type Config struct {
	Addr    string // e.g. http://127.0.0.1:8200
	Token   string
	Mount   string // KV v2 mount; default "secret"
	Timeout time.Duration
}

// Store is a keys.Store over the Vault HTTP API. (The API is three calls;
// the official client would bring a large dependency graph for them.)
type Store struct {
	cfg    Config
	client *http.Client
}

var _ keys.Store = (*Store)(nil)

// New returns a store.
func New(cfg Config) *Store {
	if cfg.Mount == "" {
		cfg.Mount = "secret"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	cfg.Addr = strings.TrimRight(cfg.Addr, "/")
	return &Store{cfg: cfg, client: &http.Client{Timeout: cfg.Timeout}}
}

func (s *Store) url() string {
	return s.cfg.Addr + "/v1/" + strings.Trim(s.cfg.Mount, "/") + "/data/" + Path
}

type readResponse struct {
	Data struct {
		Data     *keys.Doc `json:"data"`
		Metadata struct {
			Version int64 `json:"version"`
		} `json:"metadata"`
	} `json:"data"`
}

// Load reads the latest version. Nothing stored yet is version 0.
func (s *Store) Load(ctx context.Context) (keys.Doc, int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url(), nil)
	if err != nil {
		return keys.Doc{}, 0, err
	}
	body, status, err := s.do(req)
	if err != nil {
		return keys.Doc{}, 0, err
	}
	if status == http.StatusNotFound {
		// Either never written, or the latest version was deleted; the
		// metadata (if any) tells the version check-and-set must name.
		var rr readResponse
		if json.Unmarshal(body, &rr) == nil && rr.Data.Metadata.Version > 0 {
			return keys.Doc{}, rr.Data.Metadata.Version, nil
		}
		return keys.Doc{}, 0, nil
	}
	if status != http.StatusOK {
		return keys.Doc{}, 0, vaultError("read", status, body)
	}
	var rr readResponse
	if err := json.Unmarshal(body, &rr); err != nil {
		return keys.Doc{}, 0, fmt.Errorf("vault: read %s: %w", Path, err)
	}
	if rr.Data.Data == nil {
		return keys.Doc{}, rr.Data.Metadata.Version, nil
	}
	return *rr.Data.Data, rr.Data.Metadata.Version, nil
}

// Save writes doc if the stored version is still version.
func (s *Store) Save(ctx context.Context, doc keys.Doc, version int64) error {
	payload, err := json.Marshal(map[string]any{"options": map[string]any{"cas": version}, "data": doc})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url(), bytes.NewReader(payload))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	body, status, err := s.do(req)
	if err != nil {
		return err
	}
	if status == http.StatusOK || status == http.StatusNoContent {
		return nil
	}
	if status == http.StatusBadRequest {
		// Vault answers a check-and-set mismatch with a plain 400; tell it
		// from other 400s by the version, not by the message.
		if _, now, lerr := s.Load(ctx); lerr == nil && now != version {
			return keys.ErrConflict
		}
	}
	return vaultError("write", status, body)
}

// Ping checks that Vault answers and is unsealed.
func (s *Store) Ping(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.cfg.Addr+"/v1/sys/health", nil)
	if err != nil {
		return err
	}
	_, status, err := s.do(req)
	if err != nil {
		return err
	}
	if status != http.StatusOK && status != http.StatusTooManyRequests { // 429: unsealed standby
		return fmt.Errorf("vault: health status %d", status)
	}
	return nil
}

func (s *Store) do(req *http.Request) ([]byte, int, error) {
	req.Header.Set("X-Vault-Token", s.cfg.Token)
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("vault: %w", redact(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, 0, fmt.Errorf("vault: %w", err)
	}
	return body, resp.StatusCode, nil
}

// vaultError keeps Vault's own error messages (they never echo secrets)
// but not the body otherwise.
func vaultError(op string, status int, body []byte) error {
	var e struct {
		Errors []string `json:"errors"`
	}
	_ = json.Unmarshal(body, &e)
	return fmt.Errorf("vault: %s %s: status %d: %s", op, Path, status, strings.Join(e.Errors, "; "))
}

// redact drops the URL from transport errors (it names no secret, but
// keep errors short and uniform).
func redact(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}
