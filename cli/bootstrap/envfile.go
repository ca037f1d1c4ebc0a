package bootstrap

import (
	"bufio"
	"context"
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
// or one without them, holds nothing.
func (o *EnvFile) Load(context.Context) (Credential, bool, error) {
	f, err := os.Open(o.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return Credential{}, false, nil
	}
	if err != nil {
		return Credential{}, false, err
	}
	defer f.Close()
	var c Credential
	sc := bufio.NewScanner(f)
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
		return Credential{}, false, fmt.Errorf("read %s: %w", o.Path, err)
	}
	return c, c.ClientID != "" && c.ClientSecret != "", nil
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
// it: it holds a secret) renamed over the old one, so that a reader never
// sees half a file.
func (o *EnvFile) Save(_ context.Context, c Credential) (err error) {
	var b strings.Builder
	if c.URL != "" {
		fmt.Fprintf(&b, "%s=%s\n", VarURL, c.URL)
	}
	fmt.Fprintf(&b, "%s=%s\n%s=%s\n", VarClientID, c.ClientID, VarClientSecret, c.ClientSecret.Reveal())
	f, err := os.CreateTemp(filepath.Dir(o.Path), "."+filepath.Base(o.Path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
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
	return os.Rename(f.Name(), o.Path)
}
