package e2e

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/sentryagent/agentidp/deploy/local/stack"
)

// TestTransitSigningThroughGateway runs a mesh with the token services
// signing through Vault transit (AGENTIDP_TOKEN_SIGNING=transit of make
// dev): a token from the gateway is accepted by authz, which verifies it
// with the JWKS it fetches from the token service (its real path), and the
// key the stack created in Vault is not exportable.
func TestTransitSigningThroughGateway(t *testing.T) {
	skipShort(t)
	dir, err := os.MkdirTemp("", "agentidp-transit-")
	if err != nil {
		t.Fatal(err)
	}
	ports, err := stack.FreePorts()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s, err := stack.Start(ctx, stack.Config{Dir: dir, Ports: ports, TokenSigning: stack.SigningTransit,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		_ = stack.Reset(dir)
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			stack.DumpLogs(dir)
		}
		s.Stop()
		_ = stack.Reset(dir)
	}()
	adm, err := s.BootstrapAdmin(ctx, filepath.Join(dir, "env"))
	if err != nil {
		t.Fatal(err)
	}

	form := url.Values{"grant_type": {"client_credentials"}}.Encode()
	var token string
	for i := 0; i < 50 && token == ""; i++ {
		req, _ := http.NewRequest("POST", s.GatewayURL()+"/oauth2/token", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(adm.ClientID, adm.ClientSecret)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			AccessToken string `json:"access_token"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		token = body.AccessToken
		if token == "" {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if token == "" {
		t.Fatal("no token from the gateway")
	}
	req, _ := http.NewRequest("GET", s.GatewayURL()+"/v1/agents?pageSize=1", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("authz refused the transit-signed token: %d %s", resp.StatusCode, b)
	}

	conf := api.DefaultConfig()
	conf.Address = s.VaultAddr()
	vc, err := api.NewClient(conf)
	if err != nil {
		t.Fatal(err)
	}
	vc.SetToken(s.VaultToken())
	key, err := vc.Logical().Read("transit/keys/" + stack.TransitKey)
	if err != nil || key == nil {
		t.Fatalf("transit key: %v", err)
	}
	if key.Data["exportable"] != false || key.Data["type"] != "ecdsa-p256" {
		t.Fatalf("the stack's transit key: exportable %v, type %v", key.Data["exportable"], key.Data["type"])
	}
}
