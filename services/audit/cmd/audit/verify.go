// `audit verify`: the operator's check of the hash chain, straight from
// the database (docs/audit.md).

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/sentryagent/agentidp/libs/config"
	"github.com/sentryagent/agentidp/libs/postgres"
	"github.com/sentryagent/agentidp/services/audit/internal/audit"
	pgstore "github.com/sentryagent/agentidp/services/audit/internal/store/postgres"
	grpctransport "github.com/sentryagent/agentidp/services/audit/internal/transport/grpc"
)

// VerifyConfig is what `audit verify` reads from the environment.
type VerifyConfig struct {
	config.Common
	DatabaseURL string `env:"DATABASE_URL,required"`
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
	if err := fs.Parse(args); err != nil {
		return 1, err
	}
	cfg, err := config.Load[VerifyConfig]()
	if err != nil {
		return 1, err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
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
	v, err := audit.Verify(ctx, pgstore.New(pool, 0), r)
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
	return 0, nil
}
