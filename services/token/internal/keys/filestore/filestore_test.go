package filestore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sentryagent/agentidp/services/token/internal/keys"
	"github.com/sentryagent/agentidp/services/token/internal/keys/filestore"
)

func TestFileStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	kek := make([]byte, 32)
	kek[0] = 7
	s, err := filestore.New(dir, kek)
	if err != nil {
		t.Fatal(err)
	}
	doc, v, err := s.Load(ctx)
	if err != nil || v != 0 || len(doc.Keys) != 0 {
		t.Fatalf("empty store: %v %d %v", doc, v, err)
	}
	k, err := keys.Generate(keys.ES256, time.Now(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	want := keys.Doc{CacheKey: []byte("0123456789abcdef0123456789abcdef"), Keys: []keys.StoredKey{k}}
	if err := s.Save(ctx, want, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(ctx, want, 0); !errors.Is(err, keys.ErrConflict) {
		t.Fatalf("stale version: %v, want ErrConflict", err)
	}
	got, v, err := s.Load(ctx)
	if err != nil || v != 1 || len(got.Keys) != 1 || got.Keys[0].KID != k.KID || string(got.CacheKey) != string(want.CacheKey) {
		t.Fatalf("round trip: %+v %d %v", got, v, err)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, filestore.FileName))
	if strings.Contains(string(raw), k.KID) || strings.Contains(string(raw), "private") {
		t.Fatal("the file is not encrypted")
	}

	other := make([]byte, 32)
	wrong, _ := filestore.New(dir, other)
	if _, _, err := wrong.Load(ctx); err == nil || !strings.Contains(err.Error(), "KEY_ENCRYPTION_KEY") {
		t.Fatalf("wrong key: %v", err)
	}
	if _, err := filestore.New(dir, []byte("short")); err == nil {
		t.Fatal("short key accepted")
	}
}

// What a crash or a stranger may leave in the directory: a temporary file
// of an interrupted save is ignored; a key file that does not decrypt is
// an error for Load and Save alike, never "nothing stored" (a replica
// would then create new keys and overwrite the ones every token is signed
// with).
func TestFileStoreHalfWritten(t *testing.T) {
	ctx := context.Background()
	kek := make([]byte, 32)
	kek[0] = 7
	k, err := keys.Generate(keys.ES256, time.Now(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	stored := keys.Doc{CacheKey: make([]byte, 32), Keys: []keys.StoredKey{k}}
	tests := []struct {
		name    string
		damage  func(t *testing.T, dir string)
		wantErr bool
	}{
		{"temporary file of an interrupted save", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, filestore.FileName+".tmp-123"), `{"format":"agentidp-token-signing-keys/v1","vers`)
		}, false},
		{"truncated key file", func(t *testing.T, dir string) {
			path := filepath.Join(dir, filestore.FileName)
			b, _ := os.ReadFile(path)
			write(t, path, string(b[:len(b)/2]))
		}, true},
		{"empty key file", func(t *testing.T, dir string) { write(t, filepath.Join(dir, filestore.FileName), "") }, true},
		{"key file of another key", func(t *testing.T, dir string) {
			otherDir := t.TempDir()
			other, _ := filestore.New(otherDir, make([]byte, 32))
			if err := other.Save(ctx, stored, 0); err != nil {
				t.Fatal(err)
			}
			b, _ := os.ReadFile(filepath.Join(otherDir, filestore.FileName))
			write(t, filepath.Join(dir, filestore.FileName), string(b))
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := filestore.New(dir, kek)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Save(ctx, stored, 0); err != nil {
				t.Fatal(err)
			}
			tt.damage(t, dir)
			before, _ := os.ReadFile(filepath.Join(dir, filestore.FileName))
			got, v, loadErr := s.Load(ctx)
			saveErr := s.Save(ctx, keys.Doc{}, v)
			if !tt.wantErr {
				if loadErr != nil || v != 1 || len(got.Keys) != 1 || saveErr != nil {
					t.Fatalf("load: %d keys at version %d, %v; save: %v", len(got.Keys), v, loadErr, saveErr)
				}
				return
			}
			if loadErr == nil || saveErr == nil {
				t.Fatalf("load: %d keys at version %d, %v; save: %v; want errors", len(got.Keys), v, loadErr, saveErr)
			}
			if after, _ := os.ReadFile(filepath.Join(dir, filestore.FileName)); string(after) != string(before) {
				t.Fatal("a save over a key file that does not decrypt replaced it")
			}
		})
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
