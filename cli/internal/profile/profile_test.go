package profile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoginLogout(t *testing.T) {
	s := &Store{Dir: filepath.Join(t.TempDir(), "agentidp")}
	c, err := s.Load()
	if err != nil || len(c.Profiles) != 0 {
		t.Fatalf("empty store: %v %+v", err, c)
	}
	if err := s.Login("default", "http://a", "id-a", "secret-a"); err != nil {
		t.Fatal(err)
	}
	if err := s.Login("ops", "http://b", "id-b", "secret-b"); err != nil {
		t.Fatal(err)
	}
	c, _ = s.Load()
	if c.Current != "ops" || len(c.Profiles) != 2 || c.Profiles["default"].ClientID != "id-a" {
		t.Fatalf("%+v", c)
	}
	cfg, _ := os.ReadFile(filepath.Join(s.Dir, "config.yaml"))
	if strings.Contains(string(cfg), "secret-") {
		t.Errorf("config.yaml holds a secret:\n%s", cfg)
	}
	for name, want := range map[string]string{"default": "secret-a", "ops": "secret-b"} {
		p := s.SecretPath(c.Profiles[name])
		st, err := os.Stat(p)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", p, st, err)
		}
		if got, err := ReadSecret(p); err != nil || got != want {
			t.Errorf("%s: %q %v", name, got, err)
		}
	}
	if st, _ := os.Stat(s.Dir); st.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v", st.Mode())
	}
	if ok, err := s.Logout("ops"); !ok || err != nil {
		t.Fatal(ok, err)
	}
	c, _ = s.Load()
	if c.Current != "default" || len(c.Profiles) != 1 {
		t.Errorf("after logout: %+v", c)
	}
	if _, err := os.Stat(filepath.Join(s.Dir, "secrets", "ops")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("secret file left: %v", err)
	}
	if ok, err := s.Logout("ops"); ok || err != nil {
		t.Errorf("second logout: %v %v", ok, err)
	}
	for _, bad := range []string{"", "../x", "a/b", ".hidden", strings.Repeat("x", 65)} {
		if err := s.Login(bad, "http://a", "id", "s"); err == nil {
			t.Errorf("profile name %q accepted", bad)
		}
	}
}

func TestReadSecretRefusesLoosePermissions(t *testing.T) {
	p := filepath.Join(t.TempDir(), "s")
	if err := os.WriteFile(p, []byte("  the-secret \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadSecret(p); err != nil || got != "the-secret" {
		t.Fatalf("%q %v", got, err)
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o660, 0o620} {
		_ = os.Chmod(p, mode)
		if _, err := ReadSecret(p); !errors.Is(err, ErrInsecureSecretFile) {
			t.Errorf("mode %v: %v", mode, err)
		}
	}
	_ = os.Chmod(p, 0o400)
	if _, err := ReadSecret(p); err != nil {
		t.Errorf("mode 0400: %v", err)
	}
	empty := filepath.Join(t.TempDir(), "e")
	_ = os.WriteFile(empty, []byte("\n"), 0o600)
	if _, err := ReadSecret(empty); err == nil {
		t.Error("empty secret file accepted")
	}
	if _, err := ReadSecret(t.TempDir()); err == nil {
		t.Error("a directory accepted")
	}
}

func TestBadConfig(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	_ = os.WriteFile(filepath.Join(s.Dir, "config.yaml"), []byte("profiles:\n  x:\n    bogus: 1\n"), 0o600)
	if _, err := s.Load(); err == nil || !strings.Contains(err.Error(), "config.yaml") {
		t.Errorf("unknown field: %v", err)
	}
}
