package mtls

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// CA is a short-lived certificate authority for a mesh without
// cert-manager: the local stack, docker compose's one-shot step and tests.
// It lives in memory; only its certificate is written (the bundle).
type CA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	PEM  []byte // the CA certificate: the bundle every process trusts
}

// NewCA creates a CA valid for ttl (from a minute ago, for clock skew).
func NewCA(ttl time.Duration) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{Organization: []string{"AgentIdP"}, CommonName: "AgentIdP mesh CA"},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(ttl),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		URIs:                  []*url.URL{{Scheme: "spiffe", Host: TrustDomain}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{cert: cert, key: key, PEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

// Issued is a certificate and its key, PEM-encoded.
type Issued struct {
	CertPEM, KeyPEM []byte
	NotAfter        time.Time
}

// Issue returns a certificate for the mesh identity name (its URI SAN is
// ID(name)), usable as server and client, valid for ttl (never past the
// CA). dnsNames and ips are added for clients that verify host names
// (Envoy's health checks do not; browsers never see these).
func (ca *CA) Issue(name string, ttl time.Duration, dnsNames []string, ips []net.IP) (Issued, error) {
	id, err := url.Parse(ID(name))
	if err != nil {
		return Issued{}, err
	}
	if _, err := Name(id); err != nil {
		return Issued{}, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Issued{}, err
	}
	now := time.Now()
	notAfter := now.Add(ttl)
	if notAfter.After(ca.cert.NotAfter) {
		notAfter = ca.cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{Organization: []string{"AgentIdP"}, CommonName: name},
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		URIs:         []*url.URL{id},
		DNSNames:     dnsNames,
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return Issued{}, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return Issued{}, err
	}
	return Issued{
		CertPEM:  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:   pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		NotAfter: notAfter,
	}, nil
}

// NotAfter is when the CA expires.
func (ca *CA) NotAfter() time.Time { return ca.cert.NotAfter }

// FilesIn are the conventional file names of identity name under dir:
// dir/<name>/tls.crt, tls.key and ca.crt (cert-manager's Secret keys).
func FilesIn(dir, name string) Files {
	d := filepath.Join(dir, name)
	return Files{Cert: filepath.Join(d, "tls.crt"), Key: filepath.Join(d, "tls.key"), CA: filepath.Join(d, "ca.crt")}
}

// WriteFiles issues a certificate for name and writes it with the CA's
// certificate as the bundle to FilesIn(dir, name) (WriteFilesWithBundle).
func (ca *CA) WriteFiles(dir, name string, ttl time.Duration, dnsNames []string, ips []net.IP) (Files, Issued, error) {
	return ca.WriteFilesWithBundle(dir, name, ttl, ca.PEM, dnsNames, ips)
}

// WriteFilesWithBundle issues a certificate for name and writes it with
// bundle (the CAs to trust: this one, and a previous one while
// certificates it signed live) to FilesIn(dir, name), each file replaced
// atomically (write, then rename). The key is written first: a reader
// that sees the new certificate before its key fails to pair them and
// keeps the old ones until its next check.
func (ca *CA) WriteFilesWithBundle(dir, name string, ttl time.Duration, bundle []byte, dnsNames []string, ips []net.IP) (Files, Issued, error) {
	files := FilesIn(dir, name)
	if err := os.MkdirAll(filepath.Dir(files.Cert), 0o700); err != nil {
		return files, Issued{}, err
	}
	iss, err := ca.Issue(name, ttl, dnsNames, ips)
	if err != nil {
		return files, Issued{}, err
	}
	for _, f := range []struct {
		path string
		data []byte
		mode os.FileMode
	}{{files.CA, bundle, 0o644}, {files.Key, iss.KeyPEM, 0o600}, {files.Cert, iss.CertPEM, 0o644}} {
		if err := writeAtomic(f.path, f.data, f.mode); err != nil {
			return files, Issued{}, err
		}
	}
	return files, iss, nil
}

func writeAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("mtls: %w", err)
	}
	return nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(errors.Join(errors.New("mtls: no randomness"), err))
	}
	return n
}
