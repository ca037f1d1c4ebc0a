package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/sentryagent/agentidp/libs/mtls"
	"github.com/sentryagent/agentidp/libs/testkit"
)

// TestEnvoyUpstreamsOverMutualTLS: with the gateway's mesh certificate,
// Envoy reaches ext_authz and the registry over mutual TLS (servers that
// require a mesh client certificate), presents a rotated certificate
// without a restart, and refuses an upstream whose certificate names
// another service.
func TestEnvoyUpstreamsOverMutualTLS(t *testing.T) {
	testkit.SkipIfShort(t)
	ca, err := mtls.NewCA(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	identity := func(name string) *mtls.Source {
		files, _, err := ca.WriteFiles(dir, name, time.Hour, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		src, err := mtls.Load(files)
		if err != nil {
			t.Fatal(err)
		}
		return src
	}
	serverOpts := func(name string) []grpc.ServerOption {
		return []grpc.ServerOption{grpc.Creds(identity(name).ServerCredentials())}
	}
	reg := &fakeRegistry{name: "a", opts: serverOpts(mtls.Registry)}
	reg.start(t, "127.0.0.1:0")
	t.Cleanup(reg.stop)
	gw := identity(mtls.Gateway)
	files := mtls.FilesIn(dir, mtls.Gateway)
	s := startStackAuthz(t, map[string]string{
		"TLS_CERT_FILE": files.Cert, "TLS_KEY_FILE": files.Key, "TLS_CA_FILE": files.CA,
	}, serverOpts(mtls.Authz), reg.Addr())

	getAgent := func() response {
		return s.do("GET", "/v1/agents/a1", "")
	}
	eventuallyGW(t, 15*time.Second, func() error {
		if r := getAgent(); r.status != http.StatusOK {
			return fmt.Errorf("GET through Envoy: %d %s", r.status, r.body)
		}
		return nil
	})
	if s.authz.calls.Load() == 0 || reg.calls.Load() == 0 {
		t.Fatalf("ext_authz %d calls, registry %d calls", s.authz.calls.Load(), reg.calls.Load())
	}

	// Rotation: new files, and Envoy presents the new certificate.
	before := gw.Leaf().SerialNumber
	if !envoyPresents(t, s, fmt.Sprintf("%x", before)) {
		t.Fatalf("Envoy does not present the gateway certificate %x", before)
	}
	if err := gw.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ca.WriteFiles(dir, mtls.Gateway, time.Hour, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := gw.Reload(); err != nil {
		t.Fatal(err)
	}
	after := gw.Leaf().SerialNumber
	eventuallyGW(t, 15*time.Second, func() error {
		if !envoyPresents(t, s, fmt.Sprintf("%x", after)) {
			return fmt.Errorf("Envoy does not present the rotated certificate %x yet", after)
		}
		return nil
	})
	if r := getAgent(); r.status != http.StatusOK {
		t.Fatalf("after rotation: %d %s", r.status, r.body)
	}

	// A registry endpoint whose certificate is the token service's: Envoy
	// refuses it (503), though the CA is the mesh's.
	impostor := &fakeRegistry{name: "impostor", opts: serverOpts(mtls.Token)}
	impostor.start(t, "127.0.0.1:0")
	t.Cleanup(impostor.stop)
	s.writeConfig(impostor.Addr())
	eventuallyGW(t, 15*time.Second, func() error {
		if r := getAgent(); r.status != http.StatusServiceUnavailable {
			return fmt.Errorf("an impostor registry: %d %s", r.status, r.body)
		}
		return nil
	})
	if impostor.calls.Load() != 0 {
		t.Fatalf("the impostor answered %d calls", impostor.calls.Load())
	}
}

// envoyPresents reports whether Envoy's /certs lists a certificate with
// this hex serial.
func envoyPresents(t *testing.T, s *stack, serial string) bool {
	t.Helper()
	body, err := s.envoy.Admin(context.Background(), "/certs")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Certificates []struct {
			CertChain []struct {
				SerialNumber string `json:"serial_number"`
			} `json:"cert_chain"`
		} `json:"certificates"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	for _, c := range doc.Certificates {
		for _, cc := range c.CertChain {
			if strings.TrimLeft(strings.ToLower(cc.SerialNumber), "0") == strings.TrimLeft(serial, "0") {
				return true
			}
		}
	}
	return false
}

func eventuallyGW(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
