// Package gen_test checks that the committed generated code is exactly what
// buf generates from libs/proto today, and that the protos pass buf lint.
package gen_test

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/sentryagent/agentidp/libs/testkit"
)

// buildTools builds buf and protoc-gen-openapiv2 (pinned in tools/buf) and
// the Go protoc plugins (pinned in libs/go.mod) into dir. The Go build cache makes repeat runs fast.
func buildTools(t *testing.T, dir string) {
	t.Helper()
	builds := []struct {
		moduleDir, pkg, out string
		gowork              bool
	}{
		{"../../tools/buf", "github.com/bufbuild/buf/cmd/buf", "buf", false},
		{"../../tools/buf", "github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2", "protoc-gen-openapiv2", false},
		{"..", "google.golang.org/protobuf/cmd/protoc-gen-go", "protoc-gen-go", true},
		{"..", "google.golang.org/grpc/cmd/protoc-gen-go-grpc", "protoc-gen-go-grpc", true},
	}
	for _, b := range builds {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, b.out), b.pkg)
		cmd.Dir = b.moduleDir
		cmd.Env = os.Environ()
		if !b.gowork {
			cmd.Env = append(cmd.Env, "GOWORK=off")
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", b.out, err, out)
		}
	}
}

func TestGeneratedCodeIsUpToDate(t *testing.T) {
	testkit.SkipIfShort(t)
	bin := t.TempDir()
	buildTools(t, bin)
	out := t.TempDir()
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(filepath.Join(bin, "buf"), args...)
		cmd.Dir = ".." // libs/, where buf.yaml and buf.gen.yaml live
		cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("buf %v: %v\n%s", args, err, b)
		}
	}
	run("lint")
	run("generate", "-o", out)

	fresh := map[string][]byte{}
	root := filepath.Join(out, "gen")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		fresh[rel], err = os.ReadFile(path)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	committed := map[string]bool{}
	err = filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || (filepath.Ext(path) != ".go" && filepath.Ext(path) != ".yaml") || filepath.Dir(path) == "." {
			return err
		}
		committed[path] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for rel, want := range fresh {
		got, err := os.ReadFile(rel)
		if err != nil {
			t.Errorf("%s is not committed; run make proto", rel)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("libs/gen/%s is stale; run make proto", rel)
		}
	}
	for rel := range committed {
		if _, ok := fresh[rel]; !ok {
			t.Errorf("libs/gen/%s is not generated from any proto; delete it or run make proto", rel)
		}
	}
}
