package testkit

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TokenSigner signs JWTs with one of the token service's real signing keys,
// read from its Vault store, so that tests can present tokens that verify
// but are wrong in one way (expired, another issuer or audience, ...).
type TokenSigner struct {
	KID string
	Alg string
	key crypto.Signer
}

// TokenSignerFromVault reads the token service's key document
// (<mount>/agentidp/token/signing-keys, KV v2) and returns a signer for the
// key signing now.
func TokenSignerFromVault(t testing.TB, vaultAddr, vaultToken string) *TokenSigner {
	t.Helper()
	ts, err := ReadTokenSigner(context.Background(), vaultAddr, vaultToken)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// ReadTokenSigner is TokenSignerFromVault returning an error.
func ReadTokenSigner(ctx context.Context, vaultAddr, vaultToken string) (*TokenSigner, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		strings.TrimRight(vaultAddr, "/")+"/v1/secret/data/agentidp/token/signing-keys", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-Vault-Token", vaultToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("read signing keys from vault: %s", resp.Status)
	}
	var doc struct {
		Data struct {
			Data struct {
				Keys []struct {
					KID        string    `json:"kid"`
					Alg        string    `json:"alg"`
					ActiveFrom time.Time `json:"active_from"`
					PrivateKey []byte    `json:"private_key_pkcs8"`
				} `json:"keys"`
			} `json:"data"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		return nil, err
	}
	var best *TokenSigner
	var bestFrom time.Time
	for _, k := range doc.Data.Data.Keys {
		if k.ActiveFrom.After(time.Now()) || (best != nil && k.ActiveFrom.Before(bestFrom)) {
			continue
		}
		raw, err := x509.ParsePKCS8PrivateKey(k.PrivateKey)
		if err != nil {
			return nil, err
		}
		signer, ok := raw.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("key %s is not a signer", k.KID)
		}
		best, bestFrom = &TokenSigner{KID: k.KID, Alg: k.Alg, key: signer}, k.ActiveFrom
	}
	if best == nil {
		return nil, fmt.Errorf("no active signing key in vault")
	}
	return best, nil
}

// Sign returns a compact JWS of claims. The header defaults to the key's
// alg and kid and typ at+jwt; header entries override them (a nil value
// removes one).
func (s *TokenSigner) Sign(header, claims map[string]any) string {
	h := map[string]any{"alg": s.Alg, "kid": s.KID, "typ": "at+jwt"}
	for k, v := range header {
		if v == nil {
			delete(h, k)
		} else {
			h[k] = v
		}
	}
	hb, _ := json.Marshal(h)
	cb, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding
	input := enc.EncodeToString(hb) + "." + enc.EncodeToString(cb)
	var sig []byte
	switch k := s.key.(type) {
	case *ecdsa.PrivateKey:
		digest := sha256.Sum256([]byte(input))
		r, ss, err := ecdsa.Sign(rand.Reader, k, digest[:])
		if err != nil {
			panic(err)
		}
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		ss.FillBytes(sig[32:])
	case ed25519.PrivateKey:
		sig = ed25519.Sign(k, []byte(input))
	default:
		panic(fmt.Sprintf("unsupported key %T", s.key))
	}
	return input + "." + enc.EncodeToString(sig)
}
