package command

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/sentryagent/agentidp/libs/mtls"
)

// TestMeshCertsCommand: every identity gets a certificate naming it, of a
// CA kept in --ca-dir; a second run rotates the certificates and keeps the
// CA, so processes that re-read their files still trust each other.
func TestMeshCertsCommand(t *testing.T) {
	dir, caDir := t.TempDir(), filepath.Join(t.TempDir(), "ca")
	run := func() {
		t.Helper()
		var out, errb bytes.Buffer
		if code := Execute(context.Background(), Streams{Out: &out, Err: &errb},
			[]string{"mesh-certs", "--dir", dir, "--ca-dir", caDir}); code != 0 {
			t.Fatalf("exit %d: %s", code, errb.String())
		}
	}
	run()
	first := map[string]string{}
	for _, name := range meshIdentities {
		src, err := mtls.Load(mtls.FilesIn(dir, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if src.Name() != name {
			t.Fatalf("%s's certificate names %s", name, src.Name())
		}
		first[name] = src.Leaf().SerialNumber.String()
	}
	caBefore, err := os.ReadFile(filepath.Join(caDir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	token, err := mtls.Load(mtls.FilesIn(dir, mtls.Token))
	if err != nil {
		t.Fatal(err)
	}
	run()
	caAfter, _ := os.ReadFile(filepath.Join(caDir, "ca.crt"))
	if !bytes.Equal(caBefore, caAfter) {
		t.Fatal("a second run replaced a CA with most of its life left")
	}
	if err := token.Reload(); err != nil {
		t.Fatal(err)
	}
	if token.Leaf().SerialNumber.String() == first[mtls.Token] {
		t.Fatal("a second run did not re-issue the certificates")
	}
	if st, err := os.Stat(mtls.FilesIn(dir, mtls.Token).Key); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key mode %v, %v; want 0600", st.Mode(), err)
	}

	var errb bytes.Buffer
	if code := Execute(context.Background(), Streams{Out: &bytes.Buffer{}, Err: &errb}, []string{"mesh-certs", "--dir", dir}); code != ExitUsage {
		t.Fatalf("without --ca-dir: exit %d: %s", code, errb.String())
	}
}
