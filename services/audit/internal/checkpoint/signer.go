// Package checkpoint signs the audit chain's head with a key PostgreSQL
// never sees and publishes the checkpoints: signers (Vault transit, a key
// file for development), the append-only JSON-lines file sink, the loop
// that signs every N events or M minutes, and the source verification
// reads checkpoints and keys from. docs/audit.md, "Signed checkpoints".
package checkpoint

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	vault "github.com/hashicorp/vault/api"

	"github.com/sentryagent/agentidp/services/audit/internal/audit"
)

// FileSigner signs with an Ed25519 private key in a PEM (PKCS#8) file.
// For development and single-host setups: the key lives on the audit
// service's disk, out of PostgreSQL's reach (a database insider cannot
// sign), but anyone who can read the service's file system can; Vault
// transit keeps the key inside Vault, where nobody can export it.
type FileSigner struct {
	key ed25519.PrivateKey
	id  string
}

// LoadFileSigner reads the key at path; when the file does not exist and
// create is true, it generates one (mode 0600).
func LoadFileSigner(path string, create bool) (*FileSigner, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && create {
		_, priv, gerr := ed25519.GenerateKey(rand.Reader)
		if gerr != nil {
			return nil, gerr
		}
		der, gerr := x509.MarshalPKCS8PrivateKey(priv)
		if gerr != nil {
			return nil, gerr
		}
		b = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, err
		}
		// O_EXCL: two processes starting at once do not each write a key.
		f, oerr := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if oerr == nil {
			_, werr := f.Write(b)
			if cerr := f.Close(); werr == nil {
				werr = cerr
			}
			if werr != nil {
				return nil, werr
			}
		} else if b, err = os.ReadFile(path); err != nil {
			return nil, err
		}
		err = nil
	}
	if err != nil {
		return nil, fmt.Errorf("AUDIT_CHECKPOINT_KEY_FILE: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("AUDIT_CHECKPOINT_KEY_FILE: %s holds no PEM block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("AUDIT_CHECKPOINT_KEY_FILE: %s: %w", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("AUDIT_CHECKPOINT_KEY_FILE: %s is a %T, not an Ed25519 key", path, k)
	}
	id, err := audit.KeyID(priv.Public())
	if err != nil {
		return nil, err
	}
	return &FileSigner{key: priv, id: id}, nil
}

// Sign implements audit.Signer.
func (s *FileSigner) Sign(_ context.Context, payload []byte) ([]byte, string, string, error) {
	return ed25519.Sign(s.key, payload), audit.AlgEd25519, s.id, nil
}

// PublicKeys implements audit.Signer.
func (s *FileSigner) PublicKeys(context.Context) (audit.PublicKeys, error) {
	return audit.PublicKeys{s.id: s.key.Public()}, nil
}

// PublicKeyPEM is the signer's public key as a PEM "PUBLIC KEY" block, for
// auditors to keep.
func PublicKeyPEM(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// ReadPublicKeys reads every PEM "PUBLIC KEY" block of a file (an auditor's
// copy of the keys, obtained outside PostgreSQL).
func ReadPublicKeys(path string) (audit.PublicKeys, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	keys := audit.PublicKeys{}
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		if block.Type != "PUBLIC KEY" {
			continue
		}
		pub, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if err := keys.Add(pub); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s holds no PEM PUBLIC KEY block", path)
	}
	return keys, nil
}

// TransitSigner signs in Vault's transit engine: the private key is
// created inside Vault, not exportable, and never leaves it; the public
// keys (every version) are read from transit. Key types ed25519 and
// ecdsa-p256.
type TransitSigner struct {
	client *vault.Client
	mount  string
	key    string

	mu   sync.Mutex
	keys map[int]string // key version → KeyID, filled from transit
	pubs audit.PublicKeys
}

// NewTransitSigner signs with key name under the transit mount. When the
// key does not exist it is created as ed25519 (the token must be allowed
// to; otherwise create it beforehand: `vault write transit/keys/<name>
// type=ed25519`).
func NewTransitSigner(ctx context.Context, client *vault.Client, mount, name string) (*TransitSigner, error) {
	s := &TransitSigner{client: client, mount: strings.Trim(mount, "/"), key: name}
	if _, err := s.PublicKeys(ctx); err != nil {
		if !errors.Is(err, errNoKey) {
			return nil, err
		}
		if _, err := client.Logical().WriteWithContext(ctx, s.mount+"/keys/"+name, map[string]any{"type": "ed25519"}); err != nil {
			return nil, fmt.Errorf("create the transit key %s/keys/%s: %w", s.mount, name, err)
		}
		if _, err := s.PublicKeys(ctx); err != nil {
			return nil, err
		}
	}
	return s, nil
}

var errNoKey = errors.New("no such transit key")

// Client is the signer's Vault client (its token is kept alive with
// KeepTokenAlive).
func (s *TransitSigner) Client() *vault.Client { return s.client }

// TransitKeyReader reads a transit key's public keys without creating the
// key (an auditor's `audit verify -vault-transit-key`).
func TransitKeyReader(client *vault.Client, mount, name string) *TransitSigner {
	return &TransitSigner{client: client, mount: strings.Trim(mount, "/"), key: name}
}

// PublicKeys implements audit.Signer: every version of the key, read from
// transit (not from PostgreSQL).
func (s *TransitSigner) PublicKeys(ctx context.Context) (audit.PublicKeys, error) {
	sec, err := s.client.Logical().ReadWithContext(ctx, s.mount+"/keys/"+s.key)
	if err != nil {
		return nil, fmt.Errorf("read the transit key %s/keys/%s: %w", s.mount, s.key, err)
	}
	if sec == nil || sec.Data == nil {
		return nil, errNoKey
	}
	typ, _ := sec.Data["type"].(string)
	versions, _ := sec.Data["keys"].(map[string]any)
	pubs := audit.PublicKeys{}
	ids := map[int]string{}
	for v, raw := range versions {
		n, err := strconv.Atoi(v)
		if err != nil {
			continue
		}
		m, _ := raw.(map[string]any)
		pk, _ := m["public_key"].(string)
		var pub crypto.PublicKey
		switch typ {
		case "ed25519":
			b, err := base64.StdEncoding.DecodeString(pk)
			if err != nil || len(b) != ed25519.PublicKeySize {
				return nil, fmt.Errorf("transit key %s version %d: malformed public key", s.key, n)
			}
			pub = ed25519.PublicKey(b)
		case "ecdsa-p256":
			block, _ := pem.Decode([]byte(pk))
			if block == nil {
				return nil, fmt.Errorf("transit key %s version %d: malformed public key", s.key, n)
			}
			if pub, err = x509.ParsePKIXPublicKey(block.Bytes); err != nil {
				return nil, fmt.Errorf("transit key %s version %d: %w", s.key, n, err)
			}
		default:
			return nil, fmt.Errorf("transit key %s has type %q: checkpoints need ed25519 or ecdsa-p256", s.key, typ)
		}
		id, err := audit.KeyID(pub)
		if err != nil {
			return nil, err
		}
		pubs[id], ids[n] = pub, id
	}
	if len(pubs) == 0 {
		return nil, fmt.Errorf("transit key %s publishes no public key", s.key)
	}
	s.mu.Lock()
	s.keys, s.pubs = ids, pubs
	s.mu.Unlock()
	return pubs, nil
}

// Sign implements audit.Signer.
func (s *TransitSigner) Sign(ctx context.Context, payload []byte) ([]byte, string, string, error) {
	sec, err := s.client.Logical().WriteWithContext(ctx, s.mount+"/sign/"+s.key, map[string]any{
		"input": base64.StdEncoding.EncodeToString(payload),
		// ecdsa-p256: SHA-256 of the input, ASN.1 signature (the defaults,
		// stated so a change of Vault's defaults cannot change the format).
		"hash_algorithm": "sha2-256", "marshaling_algorithm": "asn1",
	})
	if err != nil {
		return nil, "", "", fmt.Errorf("transit sign: %w", err)
	}
	if sec == nil {
		return nil, "", "", errors.New("transit sign: empty answer")
	}
	sig, _ := sec.Data["signature"].(string)
	// "vault:v<version>:<base64>"
	parts := strings.SplitN(sig, ":", 3)
	if len(parts) != 3 || parts[0] != "vault" || !strings.HasPrefix(parts[1], "v") {
		return nil, "", "", errors.New("transit sign: malformed signature")
	}
	version, err := strconv.Atoi(parts[1][1:])
	if err != nil {
		return nil, "", "", errors.New("transit sign: malformed signature version")
	}
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, "", "", errors.New("transit sign: malformed signature")
	}
	s.mu.Lock()
	id, ok := s.keys[version]
	s.mu.Unlock()
	if !ok { // rotated since we last looked
		if _, err := s.PublicKeys(ctx); err != nil {
			return nil, "", "", err
		}
		s.mu.Lock()
		id, ok = s.keys[version]
		s.mu.Unlock()
		if !ok {
			return nil, "", "", fmt.Errorf("transit sign: key version %d is not published", version)
		}
	}
	s.mu.Lock()
	pub := s.pubs[id]
	s.mu.Unlock()
	alg := audit.AlgEd25519
	if _, ok := pub.(ed25519.PublicKey); !ok {
		alg = audit.AlgECDSAP256
	}
	return raw, alg, id, nil
}
