package testkit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// PolicyToken writes policy as the ACL policy name and creates an orphan
// periodic token holding it (and Vault's default policy): what a service
// is given instead of the root token, which production mode refuses. A
// periodic token expires unless renewed within period, however long it
// lives, so a short period shows that a service keeps its token alive.
func (v *Vault) PolicyToken(ctx context.Context, name, policy string, period time.Duration) (string, error) {
	if err := v.api(ctx, "PUT", "/v1/sys/policies/acl/"+name, map[string]any{"policy": policy}, nil); err != nil {
		return "", err
	}
	var out struct {
		Auth struct {
			ClientToken string `json:"client_token"`
		} `json:"auth"`
	}
	if err := v.api(ctx, "POST", "/v1/auth/token/create-orphan", map[string]any{
		"policies": []string{name}, "period": period.String(), "renewable": true,
	}, &out); err != nil {
		return "", err
	}
	if out.Auth.ClientToken == "" {
		return "", fmt.Errorf("vault: token create answered no token")
	}
	return out.Auth.ClientToken, nil
}

// api makes one request with the root token over the server's own TLS.
func (v *Vault) api(ctx context.Context, method, path string, in, out any) error {
	client, err := v.httpClient()
	if err != nil {
		return err
	}
	client.Timeout = 10 * time.Second
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, v.Addr()+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("X-Vault-Token", v.RootToken)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("vault %s %s: %d %s", method, path, resp.StatusCode, bytes.TrimSpace(body))
	}
	if out != nil && len(body) > 0 {
		return json.Unmarshal(body, out)
	}
	return nil
}

// LookupToken checks that token is valid (auth/token/lookup-self).
func (v *Vault) LookupToken(ctx context.Context, token string) error {
	client, err := v.httpClient()
	if err != nil {
		return err
	}
	client.Timeout = 10 * time.Second
	req, err := http.NewRequestWithContext(ctx, "GET", v.Addr()+"/v1/auth/token/lookup-self", nil)
	if err != nil {
		return err
	}
	req.Header.Set("X-Vault-Token", token)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("vault token lookup-self: %d", resp.StatusCode)
	}
	return nil
}
