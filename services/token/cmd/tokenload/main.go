// Command tokenload measures a token endpoint: tokens/s and latency
// quantiles with N concurrent clients, directly or through Envoy.
//
//	tokenload -url http://127.0.0.1:8080/oauth2/token -c 32 -n 50000 \
//	    -clients clients.txt   # lines of "client_id client_secret"
//
// Only loopback targets are accepted: it is a benchmark, not a load
// generator for other people's servers.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strings"

	"github.com/sentryagent/agentidp/services/token/internal/loadgen"
)

func main() {
	target := flag.String("url", "http://127.0.0.1:8080/oauth2/token", "token endpoint")
	concurrency := flag.Int("c", 32, "concurrent clients")
	requests := flag.Int("n", 20000, "requests in total")
	clientsFile := flag.String("clients", "", `file of "client_id client_secret" lines (default: $CLIENT_ID and $CLIENT_SECRET)`)
	scope := flag.String("scope", "", "scope to request")
	warmup := flag.Int("warmup", 1000, "requests sent first and not measured")
	flag.Parse()
	if err := run(*target, *concurrency, *requests, *warmup, *clientsFile, *scope); err != nil {
		fmt.Fprintln(os.Stderr, "tokenload:", err)
		os.Exit(1)
	}
}

func run(target string, concurrency, requests, warmup int, clientsFile, scope string) error {
	u, err := url.Parse(target)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(u.Hostname()); (ip == nil || !ip.IsLoopback()) && u.Hostname() != "localhost" {
		return fmt.Errorf("-url: %s is not a loopback address", u.Hostname())
	}
	clients, err := readClients(clientsFile)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cfg := loadgen.Config{TokenURL: target, Clients: clients, Concurrency: concurrency, Requests: warmup, Scope: scope}
	if warmup > 0 {
		loadgen.Run(ctx, cfg)
	}
	cfg.Requests = requests
	res := loadgen.Run(ctx, cfg)
	fmt.Println(res)
	if res.OK == 0 {
		return fmt.Errorf("no request succeeded")
	}
	return nil
}

func readClients(path string) ([]loadgen.Client, error) {
	if path == "" {
		id, secret := os.Getenv("CLIENT_ID"), os.Getenv("CLIENT_SECRET")
		if id == "" || secret == "" {
			return nil, fmt.Errorf("set -clients or CLIENT_ID and CLIENT_SECRET")
		}
		return []loadgen.Client{{ID: id, Secret: secret}}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []loadgen.Client
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 2 {
			out = append(out, loadgen.Client{ID: fields[0], Secret: fields[1]})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no clients", path)
	}
	return out, sc.Err()
}
