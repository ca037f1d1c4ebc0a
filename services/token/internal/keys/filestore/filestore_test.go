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
