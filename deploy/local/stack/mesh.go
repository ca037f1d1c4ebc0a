package stack

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/grpc"

	"github.com/sentryagent/agentidp/libs/grpcclient"
	"github.com/sentryagent/agentidp/libs/mtls"
)

// The stack's mesh: a dev CA made at every start (never written: only its
// certificate is, as the bundle) and one certificate per identity under
// Dir/certs/<name>/{tls.crt,tls.key,ca.crt}, re-issued at two thirds of
// their life while the stack runs. Services, the control plane and Envoy
// re-read them when they change: rotation without a restart.

// DefaultCertTTL is the life of a stack's certificates unless
// Config.CertTTL says otherwise: short, so that `make dev` rotates them
// several times a day.
const DefaultCertTTL = time.Hour

// caTTL bounds the dev CA: a stack running longer gets a new CA, with the
// old one kept in the bundle until every certificate it signed is gone.
const caTTL = 24 * time.Hour

// meshIdentities are the identities the stack issues certificates for.
var meshIdentities = []string{mtls.Registry, mtls.Credentials, mtls.Audit, mtls.Token, mtls.Authz, mtls.Gateway, mtls.Bootstrap}

func (s *Stack) certDir() string { return filepath.Join(s.cfg.Dir, "certs") }

func (s *Stack) certTTL() time.Duration {
	if s.cfg.CertTTL > 0 {
		return s.cfg.CertTTL
	}
	return DefaultCertTTL
}

// startMesh makes the dev CA, issues every certificate and keeps
// re-issuing them until the stack stops.
func (s *Stack) startMesh() error {
	// A fresh directory: certificates of an earlier run (another CA) would
	// only confuse whoever reads them.
	if err := os.RemoveAll(s.certDir()); err != nil {
		return err
	}
	ca, err := mtls.NewCA(caTTL)
	if err != nil {
		return err
	}
	s.meshMu.Lock()
	s.ca = ca
	s.meshMu.Unlock()
	if err := s.RotateCertificates(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stopRotation = cancel
	go s.rotateCertificates(ctx)
	return nil
}

// rotateCertificates re-issues every certificate at two thirds of its life.
func (s *Stack) rotateCertificates(ctx context.Context) {
	t := time.NewTicker(s.certTTL() * 2 / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.RotateCertificates(); err != nil {
				s.log.Error("mesh certificates not rotated", "error", err)
			}
		}
	}
}

// RotateCertificates issues a new certificate (and key) to every identity
// now, replacing the files in place; a CA past half its life is replaced
// too, the bundle trusting both until the old one expires. Processes pick
// the new files up on their next handshake (within a second, libs/mtls;
// Envoy through its directory watch).
func (s *Stack) RotateCertificates() error {
	s.meshMu.Lock()
	defer s.meshMu.Unlock()
	if time.Until(s.ca.NotAfter()) < caTTL/2 {
		next, err := mtls.NewCA(caTTL)
		if err != nil {
			return err
		}
		s.oldCAs = append(s.oldCAs, s.ca)
		s.ca = next
	}
	bundle := append([]byte(nil), s.ca.PEM...)
	kept := s.oldCAs[:0]
	for _, old := range s.oldCAs {
		if time.Now().Before(old.NotAfter()) {
			bundle = append(bundle, old.PEM...)
			kept = append(kept, old)
		}
	}
	s.oldCAs = kept
	for _, name := range meshIdentities {
		// Loopback names, for tools that verify host names (curl --cacert).
		if _, _, err := s.ca.WriteFilesWithBundle(s.certDir(), name, s.certTTL(), bundle,
			[]string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)}); err != nil {
			return fmt.Errorf("mesh certificate for %s: %w", name, err)
		}
	}
	return nil
}

// MeshFiles are the certificate, key and bundle of a mesh identity
// ("token", "gateway", "bootstrap", ... libs/mtls).
func (s *Stack) MeshFiles(name string) mtls.Files { return mtls.FilesIn(s.certDir(), name) }

// MeshEnv is the environment that gives a process the mesh identity name
// (TLS_CERT_FILE, TLS_KEY_FILE, TLS_CA_FILE): for a process a test starts
// beside the stack.
func (s *Stack) MeshEnv(name string) []string {
	f := s.MeshFiles(name)
	return []string{"TLS_CERT_FILE=" + f.Cert, "TLS_KEY_FILE=" + f.Key, "TLS_CA_FILE=" + f.CA}
}

// MeshIdentity loads the mesh identity name, re-reading its files as the
// stack rotates them.
func (s *Stack) MeshIdentity(name string) (*mtls.Source, error) { return mtls.Load(s.MeshFiles(name)) }

// DialService is a gRPC client of one of the stack's services ("registry",
// "credentials", "audit", "authz") on port, as the mesh identity caller
// (tools and tests use "bootstrap", the operators').
func (s *Stack) DialService(service string, port int, caller string) (*grpc.ClientConn, error) {
	id, err := s.MeshIdentity(caller)
	if err != nil {
		return nil, err
	}
	return grpcclient.Dial(net.JoinHostPort("127.0.0.1", fmt.Sprint(port)), grpcclient.Config{Name: service, TLS: id})
}

// IssueCertificate issues a certificate of the stack's CA to another mesh
// identity (an Envoy in front of another app, a test's client) and returns
// its files. It is not rotated: it lives CertTTL.
func (s *Stack) IssueCertificate(name string) (mtls.Files, error) {
	s.meshMu.Lock()
	defer s.meshMu.Unlock()
	f, _, err := s.ca.WriteFiles(s.certDir(), name, s.certTTL(), nil, nil)
	return f, err
}
