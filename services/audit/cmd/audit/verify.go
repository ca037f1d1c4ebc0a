// `audit verify`: the operator's check of the hash chain, straight from
// the database (docs/audit.md).

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	vault "github.com/hashicorp/vault/api"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/sentryagent/agentidp/libs/config"
	"github.com/sentryagent/agentidp/libs/postgres"
	"github.com/sentryagent/agentidp/services/audit/internal/audit"
	"github.com/sentryagent/agentidp/services/audit/internal/checkpoint"
	pgstore "github.com/sentryagent/agentidp/services/audit/internal/store/postgres"
	grpctransport "github.com/sentryagent/agentidp/services/audit/internal/transport/grpc"
)

// VerifyConfig is what `audit verify` reads from the environment.
type VerifyConfig struct {
	config.Common
	DatabaseURL string `env:"DATABASE_URL,required"`
	// For -vault-transit-key: the auditor's own Vault access.
	VaultAddr  string `env:"VAULT_ADDR"`
	VaultToken string `env:"VAULT_TOKEN"`
}

// verifyMain runs `audit verify` as a process and returns its exit code: 0
// when the chain is intact, 2 when it is broken, 1 (with the error on
// stderr) when it could not be checked.
func verifyMain(args []string) int {
	code, err := verify(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "audit:", err)
		return 1
	}
	return code
}

// verify prints the result as JSON and returns 0 when the chain is intact,
// 2 when it is broken.
func verify(args []string) (int, error) {
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	from := fs.Int64("from", 0, "first sequence to check (default: the oldest kept)")
	to := fs.Int64("to", 0, "last sequence to check (default: the newest, and the head is checked too)")
	pubFile := fs.String("public-key", "", "PEM file of the checkpoint signing public key(s) (from `audit public-key`, kept outside PostgreSQL)")
	transitKey := fs.String("vault-transit-key", "", "read the public keys of this Vault transit key instead (VAULT_ADDR, VAULT_TOKEN)")
	transitMount := fs.String("vault-transit-mount", "transit", "the transit engine's mount")
	cpFile := fs.String("checkpoints", "", "signed checkpoints: the sink's JSON-lines file or a saved GET /v1/audit/checkpoints answer "+
		"(default with a key: the copies in PostgreSQL, whose signatures are checked all the same)")
	requireCP := fs.Bool("require-checkpoints", false, "exit 2 unless at least one signed checkpoint was checked")
	if err := fs.Parse(args); err != nil {
		return 1, err
	}
	cfg, err := config.Load[VerifyConfig]()
	if err != nil {
		return 1, err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var keys audit.PublicKeys
	switch {
	case *pubFile != "" && *transitKey != "":
		return 1, errors.New("-public-key and -vault-transit-key: give one")
	case *pubFile != "":
		if keys, err = checkpoint.ReadPublicKeys(*pubFile); err != nil {
			return 1, fmt.Errorf("-public-key: %w", err)
		}
	case *transitKey != "":
		if keys, err = transitKeys(ctx, cfg, *transitMount, *transitKey); err != nil {
			return 1, err
		}
	case *cpFile != "":
		return 1, errors.New("-checkpoints: needs the key that verifies them (-public-key or -vault-transit-key)")
	}
	roleURL, err := pgstore.RoleURL(cfg.DatabaseURL)
	if err != nil {
		return 1, err
	}
	pool, err := postgres.Open(ctx, postgres.Config{URL: roleURL, MaxConns: 2}, nil)
	if err != nil {
		return 1, err
	}
	defer pool.Close()
	var r audit.Range
	if *from != 0 {
		r.From = from
	}
	if *to != 0 {
		r.To = to
	}
	store := pgstore.New(pool, 0)
	var cps []audit.Checkpoint
	switch {
	case *cpFile != "":
		if cps, err = checkpoint.ReadFile(*cpFile); err != nil {
			return 1, fmt.Errorf("-checkpoints: %w", err)
		}
		if len(cps) == 0 {
			return 1, fmt.Errorf("-checkpoints: %s holds no checkpoint", *cpFile)
		}
	case keys != nil:
		if cps, err = store.AllCheckpoints(ctx); err != nil {
			return 1, err
		}
	}
	v, err := audit.VerifyWith(ctx, store, r, cps, keys)
	if err != nil {
		return 1, err
	}
	raw, _ := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(grpctransport.VerificationToProto(v))
	var out bytes.Buffer
	_ = json.Indent(&out, raw, "", "  ") // stable spacing (protojson varies it on purpose)
	fmt.Println(out.String())
	if !v.OK {
		return 2, nil
	}
	if *requireCP && v.CheckpointsChecked == 0 {
		fmt.Fprintln(os.Stderr, "audit: no signed checkpoint was checked (-require-checkpoints)")
		return 2, nil
	}
	return 0, nil
}

// transitKeys reads the public keys of a Vault transit key.
func transitKeys(ctx context.Context, cfg VerifyConfig, mount, name string) (audit.PublicKeys, error) {
	if cfg.VaultAddr == "" || cfg.VaultToken == "" {
		return nil, errors.New("-vault-transit-key: set VAULT_ADDR and VAULT_TOKEN")
	}
	conf := vault.DefaultConfig()
	conf.Address = cfg.VaultAddr
	client, err := vault.NewClient(conf)
	if err != nil {
		return nil, err
	}
	client.SetToken(cfg.VaultToken)
	// Reading the keys does not create one: NewTransitSigner would.
	signer := checkpoint.TransitKeyReader(client, mount, name)
	return signer.PublicKeys(ctx)
}
