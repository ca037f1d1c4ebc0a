package checkpoint_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	vault "github.com/hashicorp/vault/api"

	"github.com/sentryagent/agentidp/libs/testkit"
	"github.com/sentryagent/agentidp/services/audit/internal/audit"
	"github.com/sentryagent/agentidp/services/audit/internal/checkpoint"
)

func transitClient(t testing.TB) *vault.Client {
	t.Helper()
	v := testkit.NewVault(t)
	conf := vault.DefaultConfig()
	conf.Address = v.Addr()
	client, err := vault.NewClient(conf)
	if err != nil {
		t.Fatal(err)
	}
	client.SetToken(v.RootToken)
	if err := client.Sys().Mount("transit", &vault.MountInput{Type: "transit"}); err != nil {
		t.Fatal(err)
	}
	return client
}

// Vault transit signs checkpoints with a key that never leaves it: the
// signer creates an ed25519 key when none exists, uses an ecdsa-p256 key
// that does, and after a rotation old checkpoints still verify under the
// published keys while new ones use the new version.
func TestTransitSigner(t *testing.T) {
	client := transitClient(t)
	ctx := context.Background()
	if _, err := client.Logical().Write("transit/keys/p256", map[string]any{"type": "ecdsa-p256"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ key, alg string }{{"created", audit.AlgEd25519}, {"p256", audit.AlgECDSAP256}} {
		t.Run(tc.key, func(t *testing.T) {
			s, err := checkpoint.NewTransitSigner(ctx, client, "transit", tc.key)
			if err != nil {
				t.Fatal(err)
			}
			old, err := audit.SignCheckpoint(ctx, s, 42, make([]byte, 32), time.Now())
			if err != nil || old.Algorithm != tc.alg {
				t.Fatalf("%+v %v", old, err)
			}
			if _, err := client.Logical().Write("transit/keys/"+tc.key+"/rotate", nil); err != nil {
				t.Fatal(err)
			}
			cur, err := audit.SignCheckpoint(ctx, s, 43, make([]byte, 32), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if cur.KeyID == old.KeyID {
				t.Fatal("the rotated key signs under the old key id")
			}
			// An auditor reading the keys (without creating any).
			keys, err := checkpoint.TransitKeyReader(client, "transit", tc.key).PublicKeys(ctx)
			if err != nil || len(keys) != 2 {
				t.Fatalf("keys %v (%v)", keys, err)
			}
			for _, c := range []audit.Checkpoint{old, cur} {
				if err := keys.VerifyCheckpoint(c); err != nil {
					t.Fatalf("checkpoint %d: %v", c.Sequence, err)
				}
			}
			cur.Hash = append([]byte{1}, cur.Hash[1:]...)
			if err := keys.VerifyCheckpoint(cur); !errors.Is(err, audit.ErrBadSignature) {
				t.Fatalf("an edited checkpoint: %v", err)
			}
		})
	}
	// A key of a type that cannot sign checkpoints is refused at start.
	if _, err := client.Logical().Write("transit/keys/aes", map[string]any{"type": "aes256-gcm96"}); err != nil {
		t.Fatal(err)
	}
	if _, err := checkpoint.NewTransitSigner(ctx, client, "transit", "aes"); err == nil {
		t.Fatal("an aes256-gcm96 key was accepted")
	}
}

// The signer's token is a periodic token limited to the checkpoint key
// (the policy docs/audit.md gives): renewed by KeepTokenAlive, it keeps
// signing long after its period has passed; without renewal it expires.
func TestTransitTokenSurvivesItsPeriod(t *testing.T) {
	root := transitClient(t)
	ctx := context.Background()
	policy := `path "transit/sign/cp" { capabilities = ["update"] }
path "transit/keys/cp" { capabilities = ["read", "create", "update"] }
path "auth/token/lookup-self" { capabilities = ["read"] }
path "auth/token/renew-self" { capabilities = ["update"] }`
	if err := root.Sys().PutPolicy("audit-checkpoints", policy); err != nil {
		t.Fatal(err)
	}
	token := func() *vault.Client {
		sec, err := root.Auth().Token().Create(&vault.TokenCreateRequest{Policies: []string{"audit-checkpoints"}, Period: "2s"})
		if err != nil {
			t.Fatal(err)
		}
		c, err := root.Clone()
		if err != nil {
			t.Fatal(err)
		}
		c.SetToken(sec.Auth.ClientToken)
		return c
	}
	renewed, abandoned := token(), token()
	s, err := checkpoint.NewTransitSigner(ctx, renewed, "transit", "cp")
	if err != nil {
		t.Fatal(err)
	}
	unrenewed, err := checkpoint.NewTransitSigner(ctx, abandoned, "transit", "cp")
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go checkpoint.KeepTokenAlive(runCtx, renewed, slog.New(slog.DiscardHandler))
	time.Sleep(5 * time.Second) // two and a half periods
	if _, err := audit.SignCheckpoint(ctx, s, 1, make([]byte, 32), time.Now()); err != nil {
		t.Fatalf("the renewed token: %v", err)
	}
	if _, err := audit.SignCheckpoint(ctx, unrenewed, 1, make([]byte, 32), time.Now()); err == nil {
		t.Fatal("the token nobody renewed still signs after its period")
	}
}
