package bootstrap

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// EnvFile keeps the credential in a file of VARIABLE=value lines (mode
// 0600), to be sourced by a shell (`. .dev/env`): what make dev writes.
type EnvFile struct {
	Path string
}

var _ Output = (*EnvFile)(nil)

func (o *EnvFile) String() string { return "env file " + o.Path }

// Holds: the file keeps the secret for the next run to check.
func (o *EnvFile) Holds() bool { return true }

// Load reads AGENTIDP_CLIENT_ID and AGENTIDP_CLIENT_SECRET; a missing file,
// or one without them, holds nothing. The Version is the file's digest.
func (o *EnvFile) Load(context.Context) (Credential, Version, error) {
	b, err := os.ReadFile(o.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return Credential{}, "", nil
	}
	if err != nil {
		return Credential{}, "", err
	}
	var c Credential
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok {
			continue
		}
		switch strings.TrimPrefix(k, "export ") {
		case VarURL:
			c.URL = v
		case VarClientID:
			c.ClientID = v
		case VarClientSecret:
			c.ClientSecret = Secret(v)
		}
	}
	if err := sc.Err(); err != nil {
		return Credential{}, "", fmt.Errorf("read %s: %w", o.Path, err)
	}
	return c, digest(b), nil
}

func digest(b []byte) Version {
	sum := sha256.Sum256(b)
	return Version(hex.EncodeToString(sum[:]))
}

// Prepare makes sure the file's directory exists and takes new files.
func (o *EnvFile) Prepare(context.Context) error {
	dir := filepath.Dir(o.Path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(o.Path)+".probe-*")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}

// Save writes the file whole: a temporary file (0600, as CreateTemp makes
// it: it holds a secret) moved into place, so that a reader never sees half
// a file. A new file is linked into place, which fails if another writer
// created it meanwhile (ErrChanged); replacing a file checks its digest
// first, which narrows but does not close the window: an env file is one
// developer's, not a place two bootstraps share.
func (o *EnvFile) Save(_ context.Context, c Credential, since Version) (err error) {
	var b strings.Builder
	if c.URL != "" {
		fmt.Fprintf(&b, "%s=%s\n", VarURL, c.URL)
	}
	fmt.Fprintf(&b, "%s=%s\n%s=%s\n", VarClientID, c.ClientID, VarClientSecret, c.ClientSecret.Reveal())
	f, err := os.CreateTemp(filepath.Dir(o.Path), "."+filepath.Base(o.Path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		f.Close()
		os.Remove(tmp) // after a link or a rename: gone, or a second name
		if err != nil && !errors.Is(err, ErrChanged) {
			err = fmt.Errorf("write %s: %w", o.Path, err)
		}
	}()
	if _, err = f.WriteString(b.String()); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if since == "" {
		if err = os.Link(tmp, o.Path); errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s was created meanwhile: %w", o.Path, ErrChanged)
		}
		return err
	}
	cur, err := os.ReadFile(o.Path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err != nil || digest(cur) != since {
		return fmt.Errorf("%s changed meanwhile: %w", o.Path, ErrChanged)
	}
	return os.Rename(tmp, o.Path)
}
