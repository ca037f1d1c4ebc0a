// Package filestore keeps the signing keys in one file under DATA_DIR,
// encrypted with AES-256-GCM under KEY_ENCRYPTION_KEY, for deployments
// without Vault. Replicas that share the directory (one host) coordinate
// through an exclusive lock file; replicas on several hosts need Vault.
package filestore

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/sentryagent/agentidp/services/token/internal/keys"
)

// FileName is the key file inside the data directory.
const FileName = "token-signing-keys.json"

const format = "agentidp-token-signing-keys/v1"

// envelope is the file's content; only Ciphertext holds key material.
type envelope struct {
	Format     string `json:"format"`
	Version    int64  `json:"version"`
	Nonce      []byte `json:"nonce"`
	Ciphertext []byte `json:"ciphertext"`
}

// Store is a keys.Store on the local file system.
type Store struct {
	path string
	aead cipher.AEAD
}

var _ keys.Store = (*Store)(nil)

// New returns a store in dir encrypting with kek (32 bytes, AES-256).
func New(dir string, kek []byte) (*Store, error) {
	if len(kek) != 32 {
		return nil, fmt.Errorf("KEY_ENCRYPTION_KEY: must be 32 bytes (got %d)", len(kek))
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("DATA_DIR: %w", err)
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Store{path: filepath.Join(dir, FileName), aead: aead}, nil
}

// additionalData binds the ciphertext to the format and version, so a
// stale copy cannot be replayed under a newer version number.
func additionalData(version int64) []byte {
	return []byte(format + "/" + strconv.FormatInt(version, 10))
}

// Load reads and decrypts the file; no file is version 0.
func (s *Store) Load(context.Context) (keys.Doc, int64, error) {
	unlock, err := s.lock(syscall.LOCK_SH)
	if err != nil {
		return keys.Doc{}, 0, err
	}
	defer unlock()
	return s.read()
}

func (s *Store) read() (keys.Doc, int64, error) {
	b, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return keys.Doc{}, 0, nil
	}
	if err != nil {
		return keys.Doc{}, 0, err
	}
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil || env.Format != format {
		return keys.Doc{}, 0, fmt.Errorf("%s: not a signing-key file of this version", s.path)
	}
	plain, err := s.aead.Open(nil, env.Nonce, env.Ciphertext, additionalData(env.Version))
	if err != nil {
		return keys.Doc{}, 0, fmt.Errorf("%s: KEY_ENCRYPTION_KEY does not decrypt it (wrong key, or the file was altered)", s.path)
	}
	var doc keys.Doc
	if err := json.Unmarshal(plain, &doc); err != nil {
		return keys.Doc{}, 0, fmt.Errorf("%s: %w", s.path, err)
	}
	return doc, env.Version, nil
}

// Save encrypts and writes doc if the file is still at version, atomically
// (temporary file, fsync, rename).
func (s *Store) Save(_ context.Context, doc keys.Doc, version int64) error {
	unlock, err := s.lock(syscall.LOCK_EX)
	if err != nil {
		return err
	}
	defer unlock()
	if _, current, err := s.read(); err != nil {
		return err
	} else if current != version {
		return keys.ErrConflict
	}
	plain, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	next := version + 1
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	b, err := json.Marshal(envelope{
		Format: format, Version: next, Nonce: nonce,
		Ciphertext: s.aead.Seal(nil, nonce, plain, additionalData(next)),
	})
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.path), FileName+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), s.path)
}

// lock takes a flock on a sibling lock file (the key file itself is
// replaced by rename, so it cannot carry the lock).
func (s *Store) lock(how int) (func(), error) {
	f, err := os.OpenFile(s.path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
