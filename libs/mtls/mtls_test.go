package mtls_test

import (
	"crypto/tls"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sentryagent/agentidp/libs/mtls"
)

func newCA(t *testing.T) *mtls.CA {
	t.Helper()
	ca, err := mtls.NewCA(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func load(t *testing.T, ca *mtls.CA, dir, name string) *mtls.Source {
	t.Helper()
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

// serve accepts TLS connections with cfg and reports, per connection, the
// client's mesh identity or the handshake error.
func serve(t *testing.T, cfg *tls.Config) (string, <-chan string) {
	t.Helper()
	lis, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lis.Close() })
	out := make(chan string, 16)
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			tc := c.(*tls.Conn)
			if err := tc.Handshake(); err != nil {
				out <- "error: " + err.Error()
			} else {
				st := tc.ConnectionState()
				name, _ := mtls.StateName(&st)
				out <- name + " " + st.PeerCertificates[0].SerialNumber.String()
			}
			c.Close()
		}
	}()
	return lis.Addr().String(), out
}

// dial handshakes and returns the serial of the server's certificate.
func dial(addr string, cfg *tls.Config) (string, error) {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return "", err
	}
	defer c.Close()
	// TLS 1.3: the client learns of a refused certificate on its first read.
	_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := c.Read(make([]byte, 1)); err != nil && !isTimeout(err) && !strings.Contains(err.Error(), "EOF") {
		return "", err
	}
	return c.ConnectionState().PeerCertificates[0].SerialNumber.String(), nil
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

func TestMutualIdentities(t *testing.T) {
	ca := newCA(t)
	dir := t.TempDir()
	server := load(t, ca, dir, mtls.Credentials)
	client := load(t, ca, dir, mtls.Token)
	addr, got := serve(t, server.ServerTLS())

	if _, err := dial(addr, client.ClientTLS(mtls.Credentials)); err != nil {
		t.Fatalf("token → credentials: %v", err)
	}
	if s := <-got; !strings.HasPrefix(s, "token ") {
		t.Fatalf("the server saw %q, want the token identity", s)
	}
	// The client checks who answers: a credentials certificate is not the registry.
	if _, err := dial(addr, client.ClientTLS(mtls.Registry)); err == nil || !strings.Contains(err.Error(), "want spiffe://agentidp.local/registry") {
		t.Fatalf("dialling the registry reached credentials: %v", err)
	}
	<-got
}

func TestRefusedClients(t *testing.T) {
	ca := newCA(t)
	dir := t.TempDir()
	server := load(t, ca, dir, mtls.Credentials)
	addr, got := serve(t, server.ServerTLS())

	// No certificate at all.
	noCert := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13} //nolint:gosec // the test is the client without a certificate
	if _, err := dial(addr, noCert); err == nil {
		t.Fatal("a client without a certificate was served")
	}
	if s := <-got; !strings.Contains(s, "certificate") {
		t.Fatalf("server: %q", s)
	}
	// A certificate of another CA naming a mesh identity.
	// The client trusts anything, so that it is the server that refuses.
	otherFiles, _, err := newCA(t).WriteFiles(t.TempDir(), mtls.Token, time.Hour, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	otherCert, err := tls.LoadX509KeyPair(otherFiles.Cert, otherFiles.Key)
	if err != nil {
		t.Fatal(err)
	}
	foreign := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{otherCert}} //nolint:gosec // see above
	if _, err := dial(addr, foreign); err == nil {
		t.Fatal("a certificate of another CA was served")
	}
	if s := <-got; !strings.Contains(s, "unknown authority") {
		t.Fatalf("server: %q", s)
	}
}

// TestRotationWithoutRestart: new files are served on the next handshake
// after ReloadInterval, by the same Source, on both ends; a half-written
// pair keeps the previous certificate.
func TestRotationWithoutRestart(t *testing.T) {
	ca := newCA(t)
	dir := t.TempDir()
	server := load(t, ca, dir, mtls.Credentials)
	client := load(t, ca, dir, mtls.Token)
	addr, got := serve(t, server.ServerTLS())

	before, err := dial(addr, client.ClientTLS(mtls.Credentials))
	if err != nil {
		t.Fatal(err)
	}
	clientBefore := <-got

	if _, _, err := ca.WriteFiles(dir, mtls.Credentials, time.Hour, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ca.WriteFiles(dir, mtls.Token, time.Hour, nil, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(mtls.ReloadInterval + 100*time.Millisecond)
	after, err := dial(addr, client.ClientTLS(mtls.Credentials))
	if err != nil {
		t.Fatal(err)
	}
	clientAfter := <-got
	if after == before {
		t.Fatal("the server still presents its old certificate after rotation")
	}
	if clientAfter == clientBefore {
		t.Fatal("the client still presents its old certificate after rotation")
	}

	// A certificate whose key is not there yet: the previous pair stays.
	files := mtls.FilesIn(dir, mtls.Credentials)
	iss, err := ca.Issue(mtls.Credentials, time.Hour, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(files.Cert, iss.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := server.Reload(); err == nil {
		t.Fatal("a certificate without its key was loaded")
	}
	again, err := dial(addr, client.ClientTLS(mtls.Credentials))
	if err != nil || again != after {
		t.Fatalf("a failed reload changed what is served: %s, %v", again, err)
	}
	<-got
	if err := os.WriteFile(files.Key, iss.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := server.Reload(); err != nil {
		t.Fatal(err)
	}
	if s := server.Leaf().SerialNumber.String(); s == after {
		t.Fatal("the completed pair was not loaded")
	}
}

func TestLoadRefusesForeignIdentities(t *testing.T) {
	if _, err := mtls.Load(mtls.Files{}); err == nil {
		t.Fatal("loaded nothing")
	}
	ca := newCA(t)
	if _, err := ca.Issue("a/b", time.Hour, nil, nil); err == nil {
		t.Fatal("issued a nested identity")
	}
	for _, tt := range []struct{ uri, want string }{
		{"spiffe://agentidp.local/token", "token"},
		{"spiffe://evil.local/token", ""},
		{"https://agentidp.local/token", ""},
		{"spiffe://agentidp.local/", ""},
	} {
		u, _ := urlParse(tt.uri)
		name, err := mtls.Name(u)
		if name != tt.want || (tt.want == "") != (err != nil) {
			t.Errorf("Name(%s) = %q, %v; want %q", tt.uri, name, err, tt.want)
		}
	}
}
