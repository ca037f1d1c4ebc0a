package bootstrap

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testSecret = "agentidp_sk_0123456789abcdefghijkl_SECRETSECRETSECRET"

func testCredential() Credential {
	return Credential{URL: "http://localhost:8080", ClientID: "0197a0c4-0000-7000-8000-000000000001",
		ClientSecret: Secret(testSecret), CredentialID: "0197a0c4-0000-7000-8000-0000000000c1"}
}

// A credential can be logged, printed or wrapped into an error: the secret
// never shows.
func TestSecretRedacts(t *testing.T) {
	c := testCredential()
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "credential", c, "secret", c.ClientSecret)
	js, _ := json.Marshal(c)
	for name, s := range map[string]string{
		"%v": fmt.Sprintf("%v", c), "%+v": fmt.Sprintf("%+v", c), "%#v": fmt.Sprintf("%#v", c),
		"%s": fmt.Sprintf("%s", c.ClientSecret), "%q": fmt.Sprintf("%q", c.ClientSecret),
		"error": fmt.Errorf("wrapped: %v", c).Error(), "slog": logged.String(), "json": string(js),
	} {
		if strings.Contains(s, "SECRET") {
			t.Errorf("%s shows the secret: %s", name, s)
		}
	}
	if c.ClientSecret.Reveal() != testSecret {
		t.Error("Reveal does not return the secret")
	}
}

// The framed hand-over: exactly the variables, each at the start of a line,
// so that grep '^AGENTIDP_' keeps an env file (docs/deploy.md).
func TestStdoutFramesVariables(t *testing.T) {
	var out bytes.Buffer
	o := &Stdout{W: &out}
	if c, v, _ := o.Load(context.Background()); c.Complete() || v != "" {
		t.Fatal("stdout holds a credential")
	}
	if err := o.Save(context.Background(), testCredential(), ""); err != nil {
		t.Fatal(err)
	}
	printed := out.String()
	var vars []string
	sc := bufio.NewScanner(strings.NewReader(printed))
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "AGENTIDP_") {
			vars = append(vars, sc.Text())
		}
	}
	want := []string{"AGENTIDP_URL=http://localhost:8080", "AGENTIDP_CLIENT_ID=0197a0c4-0000-7000-8000-000000000001", "AGENTIDP_CLIENT_SECRET=" + testSecret}
	if strings.Join(vars, "\n") != strings.Join(want, "\n") {
		t.Errorf("lines starting with AGENTIDP_:\n%s\nwant\n%s\nwhole output:\n%s", strings.Join(vars, "\n"), strings.Join(want, "\n"), printed)
	}
	if !strings.Contains(printed, "shown this once") {
		t.Errorf("the hand-over does not say it is shown once:\n%s", printed)
	}
}

func TestEnvFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	o := &EnvFile{Path: filepath.Join(dir, "sub", "env")}
	if c, v, err := o.Load(ctx); c.Complete() || v != "" || err != nil {
		t.Fatalf("a missing file: %+v, %q, %v; want nothing held", c, v, err)
	}
	if err := o.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	c := testCredential()
	if err := o.Save(ctx, c, ""); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(o.Path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600: the file holds a secret", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(o.Path)
	if want := "AGENTIDP_URL=http://localhost:8080\nAGENTIDP_CLIENT_ID=" + c.ClientID + "\nAGENTIDP_CLIENT_SECRET=" + testSecret + "\n"; string(b) != want {
		t.Errorf("file:\n%s\nwant\n%s", b, want)
	}
	got, v1, err := o.Load(ctx)
	if err != nil || v1 == "" || got.ClientID != c.ClientID || got.ClientSecret != c.ClientSecret || got.URL != c.URL {
		t.Errorf("Load = %+v, %q, %v; want what was saved", got, v1, err)
	}

	// Compare-and-set: creating a file that exists, or replacing one that
	// changed since it was read, is ErrChanged and leaves it alone.
	if err := o.Save(ctx, c, ""); !errors.Is(err, ErrChanged) {
		t.Errorf("Save of a new file over an existing one: %v, want ErrChanged", err)
	}
	if err := o.Save(ctx, c, "stale"); !errors.Is(err, ErrChanged) {
		t.Errorf("Save over a changed file: %v, want ErrChanged", err)
	}
	if now, _ := os.ReadFile(o.Path); string(now) != string(b) {
		t.Error("a refused Save changed the file")
	}

	// Replaced whole, nothing left beside it.
	c.ClientSecret = "agentidp_sk_other"
	c.URL = ""
	if err := o.Save(ctx, c, v1); err != nil {
		t.Fatal(err)
	}
	if got, v2, _ := o.Load(ctx); got.ClientSecret != "agentidp_sk_other" || got.URL != "" || v2 == v1 {
		t.Errorf("after a second Save: %+v (version %q, was %q)", got, v2, v1)
	}
	entries, _ := os.ReadDir(filepath.Dir(o.Path))
	if len(entries) != 1 {
		t.Errorf("files beside the env file: %v", entries)
	}
	// A shell-style file with export and other lines still reads.
	if err := os.WriteFile(o.Path, []byte("# note\nexport AGENTIDP_CLIENT_ID=a\nOTHER=1\nAGENTIDP_CLIENT_SECRET=s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := o.Load(ctx); !got.Complete() || got.ClientID != "a" || got.ClientSecret != "s" {
		t.Errorf("Load of a hand-edited file = %+v", got)
	}
}

func TestEnvFilePrepareFailsWhereItCannotWrite(t *testing.T) {
	// A regular file where the directory should be: fails even for root.
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	o := &EnvFile{Path: filepath.Join(blocker, "env")}
	if err := o.Prepare(context.Background()); err == nil {
		t.Fatal("Prepare succeeded below a regular file")
	}
}
