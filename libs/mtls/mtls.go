// Package mtls gives every AgentIdP process its mesh identity: a
// certificate whose URI SAN is a SPIFFE ID (spiffe://agentidp.local/<service>),
// the CA bundle it trusts, and the TLS configurations of gRPC servers that
// require and verify a client certificate and of clients that verify the
// server's identity.
//
// The certificate, key and bundle are read from files and re-read when the
// files change (checked at most once per ReloadInterval, on the next
// handshake), so a certificate rotated by cert-manager, the local stack or
// an operator takes effect on new connections without a restart. A change
// that does not parse (a certificate written before its key) keeps the
// previous material until the files agree again.
//
// SPIFFE IDs are parsed with net/url: AgentIdP needs one URI SAN of one
// trust domain, not the Workload API or JWT-SVIDs of
// github.com/spiffe/go-spiffe, which the build cannot fetch offline.
package mtls

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
)

// TrustDomain is the mesh's SPIFFE trust domain.
const TrustDomain = "agentidp.local"

// The mesh's identities: one per service, the gateway (Envoy and its
// control plane) and the operators' bootstrap command.
const (
	Registry    = "registry"
	Credentials = "credentials"
	Audit       = "audit"
	Token       = "token"
	Authz       = "authz"
	Gateway     = "gateway"
	Bootstrap   = "bootstrap"
)

// ID returns the SPIFFE ID of a mesh identity: ID("token") is
// "spiffe://agentidp.local/token".
func ID(name string) string { return "spiffe://" + TrustDomain + "/" + name }

// Name returns the mesh identity of a SPIFFE ID of the trust domain
// ("spiffe://agentidp.local/token" → "token"), or an error for any other
// URI.
func Name(id *url.URL) (string, error) {
	if id == nil || id.Scheme != "spiffe" {
		return "", errors.New("not a spiffe:// URI")
	}
	if id.Host != TrustDomain || id.User != nil || id.Port() != "" {
		return "", fmt.Errorf("trust domain %q is not %q", id.Host, TrustDomain)
	}
	name := strings.TrimPrefix(id.Path, "/")
	if name == "" || strings.Contains(name, "/") || id.RawQuery != "" || id.Fragment != "" {
		return "", fmt.Errorf("%q is not spiffe://%s/<name>", id.String(), TrustDomain)
	}
	return name, nil
}

// CertName returns the mesh identity named by a certificate's single
// SPIFFE URI SAN.
func CertName(cert *x509.Certificate) (string, error) {
	var found []string
	for _, u := range cert.URIs {
		if u.Scheme == "spiffe" {
			name, err := Name(u)
			if err != nil {
				return "", err
			}
			found = append(found, name)
		}
	}
	switch len(found) {
	case 0:
		return "", errors.New("certificate has no spiffe:// URI SAN")
	case 1:
		return found[0], nil
	}
	return "", errors.New("certificate has more than one spiffe:// URI SAN")
}

// Files are where a process's mesh material is: PEM files, as
// cert-manager's Secret keys tls.crt, tls.key and ca.crt.
type Files struct {
	Cert string // the certificate chain, leaf first
	Key  string // its private key
	CA   string // the CA bundle that signs every mesh certificate
}

// ReloadInterval is how often, at most, a Source checks its files.
const ReloadInterval = time.Second

// Source holds the current certificate and bundle of a process and
// swaps them atomically when the files change.
type Source struct {
	files Files
	cur   atomic.Pointer[material]

	mu      sync.Mutex // one reload at a time
	checked atomic.Int64
	now     func() time.Time
	onError func(error)
}

type material struct {
	raw  [3][]byte // cert, key, CA as read
	cert *tls.Certificate
	pool *x509.CertPool
	name string // the identity in our own certificate
}

// Load reads the files once and returns a Source that re-reads them as
// they change. It fails when they are missing, do not match, or the
// certificate carries no SPIFFE ID of the trust domain.
func Load(files Files) (*Source, error) {
	if files.Cert == "" || files.Key == "" || files.CA == "" {
		return nil, errors.New("mtls: certificate, key and CA files are all required")
	}
	s := &Source{files: files, now: time.Now, onError: func(error) {}}
	m, err := s.read()
	if err != nil {
		return nil, err
	}
	s.cur.Store(m)
	s.checked.Store(s.now().UnixNano())
	return s, nil
}

// OnReloadError sets what is told of a change that could not be loaded
// (the previous material stays); a service logs it.
func (s *Source) OnReloadError(f func(error)) { s.onError = f }

// Name is the mesh identity of this process's certificate.
func (s *Source) Name() string { return s.current().name }

// Leaf returns the current certificate (tests, and /readyz-style reports).
func (s *Source) Leaf() *x509.Certificate { return s.current().cert.Leaf }

func (s *Source) read() (*material, error) {
	var raw [3][]byte
	for i, p := range []string{s.files.Cert, s.files.Key, s.files.CA} {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("mtls: %w", err)
		}
		raw[i] = b
	}
	cert, err := tls.X509KeyPair(raw[0], raw[1])
	if err != nil {
		return nil, fmt.Errorf("mtls: %s and %s: %w", s.files.Cert, s.files.Key, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(raw[2]) {
		return nil, fmt.Errorf("mtls: %s holds no PEM certificate", s.files.CA)
	}
	name, err := CertName(cert.Leaf)
	if err != nil {
		return nil, fmt.Errorf("mtls: %s: %w", s.files.Cert, err)
	}
	return &material{raw: raw, cert: &cert, pool: pool, name: name}, nil
}

// current returns the material in force, re-reading the files first when
// ReloadInterval has passed since the last check.
func (s *Source) current() *material {
	now := s.now().UnixNano()
	if now-s.checked.Load() >= int64(ReloadInterval) && s.mu.TryLock() {
		s.reload(now)
		s.mu.Unlock()
	}
	return s.cur.Load()
}

// Reload re-reads the files now; an error leaves the previous material.
func (s *Source) Reload() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reload(s.now().UnixNano())
}

func (s *Source) reload(now int64) error {
	s.checked.Store(now)
	old := s.cur.Load()
	m, err := s.read()
	if err != nil {
		s.onError(err)
		return err
	}
	if old != nil && bytes.Equal(old.raw[0], m.raw[0]) && bytes.Equal(old.raw[1], m.raw[1]) && bytes.Equal(old.raw[2], m.raw[2]) {
		return nil
	}
	if old != nil && m.name != old.name {
		err := fmt.Errorf("mtls: %s now names %q, not %q: kept the previous certificate", s.files.Cert, m.name, old.name)
		s.onError(err)
		return err
	}
	s.cur.Store(m)
	return nil
}

// verifyChain verifies a peer's chain against the current bundle and
// returns the mesh identity of its leaf.
func (s *Source) verifyChain(rawCerts [][]byte, usage x509.ExtKeyUsage) (string, error) {
	if len(rawCerts) == 0 {
		return "", errors.New("mtls: the peer sent no certificate")
	}
	certs := make([]*x509.Certificate, len(rawCerts))
	for i, raw := range rawCerts {
		c, err := x509.ParseCertificate(raw)
		if err != nil {
			return "", fmt.Errorf("mtls: peer certificate: %w", err)
		}
		certs[i] = c
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	if _, err := certs[0].Verify(x509.VerifyOptions{
		Roots: s.current().pool, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{usage},
	}); err != nil {
		return "", fmt.Errorf("mtls: peer certificate: %w", err)
	}
	return CertName(certs[0])
}

// ServerTLS is the configuration of a server that requires a client
// certificate of the mesh. nextProtos are its ALPN protocols ("h2" for
// gRPC; "h2", "http/1.1" for an HTTP server).
func (s *Source) ServerTLS(nextProtos ...string) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		NextProtos: nextProtos,
		// Each handshake takes the certificate and bundle in force now.
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			m := s.current()
			return &tls.Config{
				MinVersion:   tls.VersionTLS13,
				NextProtos:   nextProtos,
				Certificates: []tls.Certificate{*m.cert},
				// The chain is verified below against the bundle of this
				// very handshake, and the leaf must carry a mesh identity.
				ClientAuth: tls.RequireAnyClientCert,
				VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
					_, err := s.verifyChain(raw, x509.ExtKeyUsageClientAuth)
					return err
				},
			}, nil
		},
	}
}

// ClientTLS is the configuration of a client of the mesh service named
// server: it presents this process's certificate and accepts only a server
// certificate of the mesh that names server (not the DNS name dialled:
// mesh certificates carry SPIFFE IDs, and replicas share their service's).
// An empty server accepts any mesh identity.
func (s *Source) ClientTLS(server string, nextProtos ...string) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		NextProtos: nextProtos,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return s.current().cert, nil
		},
		// Verification is by SPIFFE ID below, not by host name.
		InsecureSkipVerify: true, //nolint:gosec // VerifyPeerCertificate verifies the chain.
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			name, err := s.verifyChain(raw, x509.ExtKeyUsageServerAuth)
			if err != nil {
				return err
			}
			if server != "" && name != server {
				return fmt.Errorf("mtls: the server is %s, want %s", ID(name), ID(server))
			}
			return nil
		},
	}
}

// ServerCredentials are gRPC transport credentials requiring mesh clients.
func (s *Source) ServerCredentials() credentials.TransportCredentials {
	return credentials.NewTLS(s.ServerTLS("h2"))
}

// ClientCredentials are gRPC transport credentials for calling server.
func (s *Source) ClientCredentials(server string) credentials.TransportCredentials {
	return credentials.NewTLS(s.ClientTLS(server, "h2"))
}

// HTTPClient is an HTTP client of the mesh service named server (the
// authz service's JWKS fetch from the token service).
func (s *Source) HTTPClient(server string, timeout time.Duration) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = s.ClientTLS(server)
	tr.ForceAttemptHTTP2 = true
	return &http.Client{Transport: tr, Timeout: timeout}
}

// PeerName returns the mesh identity of a gRPC call's caller, as its
// verified client certificate says, and false on a connection without one
// (plaintext).
func PeerName(ctx context.Context) (string, bool) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return "", false
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok {
		return "", false
	}
	return StateName(&info.State)
}

// StateName returns the mesh identity of a TLS connection's peer (an HTTP
// request's r.TLS).
func StateName(st *tls.ConnectionState) (string, bool) {
	if st == nil || len(st.PeerCertificates) == 0 {
		return "", false
	}
	name, err := CertName(st.PeerCertificates[0])
	return name, err == nil
}
