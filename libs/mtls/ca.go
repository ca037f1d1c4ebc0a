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

// Save writes the CA's certificate and key to dir/ca.crt and dir/ca.key
// (0600): for a one-shot issuer that runs again later (docker compose's
// mesh-certs step) and must keep the CA every process trusts.
func (ca *CA) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(ca.key)
	if err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(dir, "ca.key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, "ca.crt"), ca.PEM, 0o644)
}

// LoadCA reads a CA saved by Save.
func LoadCA(dir string) (*CA, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, "ca.key"))
	if err != nil {
		return nil, err
	}
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, fmt.Errorf("mtls: %s: ca.crt or ca.key holds no PEM block", dir)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, err
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok || !key.PublicKey.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("mtls: %s: ca.key is not the key of ca.crt", dir)
	}
	return &CA{cert: cert, key: key, PEM: certPEM}, nil
}
