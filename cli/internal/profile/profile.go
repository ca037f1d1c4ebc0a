// Package profile keeps the agentidp command's logins: named profiles (a
// gateway URL and a client id) in os.UserConfigDir()/agentidp/config.yaml,
// each profile's client secret in a file of its own beside it, mode 0600,
// so that the configuration can be read, copied or shown without it.
package profile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// Profile is one login.
type Profile struct {
	URL      string `json:"url"`
	ClientID string `json:"clientId"`
	// SecretFile holds the client secret (mode 0600); relative to the
	// configuration directory when not absolute.
	SecretFile string `json:"secretFile"`
}

// Config is the configuration file.
type Config struct {
	// Current is the profile used without --profile or AGENTIDP_PROFILE.
	Current  string             `json:"current,omitempty"`
	Profiles map[string]Profile `json:"profiles,omitempty"`
}

// Default is the profile's name when none is given.
const Default = "default"

// ErrInsecureSecretFile is returned for a secret file that group or others
// may read or write.
var ErrInsecureSecretFile = errors.New("secret file is readable or writable by group or others (chmod 600 it)")

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// ValidName reports whether name can name a profile (and its secret file).
func ValidName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("profile name %q: use letters, digits, '.', '_' and '-' (at most 64)", name)
	}
	return nil
}

// Dir is where the configuration lives: os.UserConfigDir()/agentidp
// ($XDG_CONFIG_HOME/agentidp or ~/.config/agentidp on Linux).
func Dir() (string, error) {
	d, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no configuration directory: %w", err)
	}
	return filepath.Join(d, "agentidp"), nil
}

// Store is the configuration directory.
type Store struct{ Dir string }

// Open returns the user's store.
func Open() (*Store, error) {
	d, err := Dir()
	if err != nil {
		return nil, err
	}
	return &Store{Dir: d}, nil
}

func (s *Store) path() string { return filepath.Join(s.Dir, "config.yaml") }

// Load reads the configuration; a missing file is an empty one.
func (s *Store) Load() (*Config, error) {
	b, err := os.ReadFile(s.path())
	if errors.Is(err, fs.ErrNotExist) {
		return &Config{Profiles: map[string]Profile{}}, nil
	}
	if err != nil {
		return nil, err
	}
	var c Config
	if err := yaml.UnmarshalStrict(b, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", s.path(), err)
	}
	if c.Profiles == nil {
		c.Profiles = map[string]Profile{}
	}
	return &c, nil
}

// Save writes the configuration (mode 0600, atomically).
func (s *Store) Save(c *Config) error {
	b, err := yaml.Marshal(c)
	if err != nil {
		return err
	}
	return writeFile(s.path(), b)
}

// SecretPath is where a profile's secret file is, absolute.
func (s *Store) SecretPath(p Profile) string {
	if filepath.IsAbs(p.SecretFile) {
		return p.SecretFile
	}
	return filepath.Join(s.Dir, p.SecretFile)
}

// Login stores the profile name with its secret and makes it the current
// profile (the one used without --profile), as the latest login.
func (s *Store) Login(name, url, clientID, secret string) error {
	if err := ValidName(name); err != nil {
		return err
	}
	c, err := s.Load()
	if err != nil {
		return err
	}
	p := Profile{URL: url, ClientID: clientID, SecretFile: filepath.Join("secrets", name)}
	if err := writeFile(s.SecretPath(p), []byte(secret+"\n")); err != nil {
		return err
	}
	c.Profiles[name] = p
	c.Current = name
	return s.Save(c)
}

// Logout removes the profile and deletes its secret file. It reports
// whether the profile existed.
func (s *Store) Logout(name string) (bool, error) {
	c, err := s.Load()
	if err != nil {
		return false, err
	}
	p, ok := c.Profiles[name]
	if !ok {
		return false, nil
	}
	if err := os.Remove(s.SecretPath(p)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return true, err
	}
	delete(c.Profiles, name)
	if c.Current == name {
		c.Current = ""
		if names := c.Names(); len(names) == 1 {
			c.Current = names[0]
		}
	}
	return true, s.Save(c)
}

// Names lists the profiles, sorted.
func (c *Config) Names() []string {
	out := make([]string, 0, len(c.Profiles))
	for n := range c.Profiles {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// ReadSecret reads a secret file, refusing one that group or others may
// read or write (as ssh refuses such a key): a secret that others could
// read is no longer the operator's alone.
func ReadSecret(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("%s: not a regular file", path)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("%s: %w", path, ErrInsecureSecretFile)
	}
	b, err := io.ReadAll(io.LimitReader(f, 4097))
	if err != nil {
		return "", err
	}
	if len(b) > 4096 {
		return "", fmt.Errorf("%s: longer than a client secret", path)
	}
	secret := strings.TrimSpace(string(b))
	if secret == "" {
		return "", fmt.Errorf("%s: empty", path)
	}
	return secret, nil
}

// WriteSecret writes a secret to path, mode 0600, atomically (the file
// ReadSecret reads; credentials generate --secret-file).
func WriteSecret(path, secret string) error { return writeFile(path, []byte(secret+"\n")) }

// writeFile writes b to path with mode 0600 (directories 0700) through a
// temporary file and a rename, so that a reader never sees half a file and
// the secret is never in a file with wider permissions.
func writeFile(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
