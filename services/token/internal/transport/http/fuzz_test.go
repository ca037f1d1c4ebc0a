package http

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/sentryagent/agentidp/libs/apierror"
	"github.com/sentryagent/agentidp/services/token/internal/oauth"
)

// FuzzDecodeRequest feeds arbitrary requests to the three OAuth endpoints'
// decoders. A request is either decoded into credentials the client really
// sent, or refused with invalid_request / invalid_client, rendered as an
// RFC 6749 §5.2 body that never repeats the secret.
func FuzzDecodeRequest(f *testing.F) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	secret := "agentidp_sk_0354xg1P6xUQauHcbL9tVT_dDZpTBSUYwW7zgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	f.Add(uint8(0), formType, "", "grant_type=client_credentials", "Basic "+b64("a1:"+secret))
	f.Add(uint8(0), formType+"; charset=utf-8", "", "grant_type=client_credentials&client_id=a1&client_secret="+secret, "")
	f.Add(uint8(0), formType, "client_secret="+secret, "grant_type=client_credentials", "")
	f.Add(uint8(0), formType, "", "grant_type=client_credentials&scope=a&scope=b", "Basic "+b64("a1:s"))
	f.Add(uint8(0), formType, "", "client_id=a1&client_secret="+secret, "Basic "+b64("a1:"+secret))
	f.Add(uint8(0), formType, "", "client_id=a2", "Basic "+b64("a1:s"))
	f.Add(uint8(0), "application/json", "", `{"grant_type":"client_credentials"}`, "")
	f.Add(uint8(0), formType, "", "%zz=1", "")
	f.Add(uint8(0), formType, "", "grant_type=client_credentials", "Basic "+b64(url.QueryEscape("a:1")+":"+url.QueryEscape("p%ss w:rd")))
	f.Add(uint8(0), formType, "", "grant_type=client_credentials", "Basic !!")
	f.Add(uint8(0), formType, "", "grant_type=client_credentials", "Basic "+b64("a1:%zz"))
	f.Add(uint8(1), formType, "", "token=eyJ.eyJ.sig", "Bearer eyJ.eyJ.sig")
	f.Add(uint8(1), formType, "", "token=x&client_secret=s", "Bearer t")
	f.Add(uint8(2), formType, "", "token=x", "Basic "+b64("a1:s"))
	f.Add(uint8(2), formType, "", "", "Digest x")
	f.Fuzz(func(t *testing.T, endpoint uint8, contentType, rawQuery, body, authorization string) {
		r := httptest.NewRequest("POST", "/", strings.NewReader(body))
		r.URL.RawQuery = rawQuery
		r.Header.Set("Content-Type", contentType)
		if authorization != "" {
			r.Header.Set("Authorization", authorization)
		}
		ctx := context.Background()
		var got any
		var err error
		switch endpoint % 3 {
		case 0:
			got, err = decodeToken(ctx, r)
		case 1:
			got, err = decodeIntrospect(ctx, r)
		default:
			got, err = decodeRevoke(ctx, r)
		}
		if err != nil {
			e := apierror.As(err)
			if e == nil || !(e.Is(oauth.ErrInvalidRequest) || e.Is(oauth.ErrInvalidClient)) {
				t.Fatalf("error %v is neither invalid_request nor invalid_client", err)
			}
			w := httptest.NewRecorder()
			encodeError(ctx, err, w)
			checkOAuthError(t, w, e)
			// The secret the client sent is never repeated to it (a
			// repeated parameter is named, whatever its name).
			var out map[string]string
			_ = json.Unmarshal(w.Body.Bytes(), &out)
			desc := out["error_description"]
			if name, ok := strings.CutPrefix(desc, "parameter "); ok {
				name = strings.TrimSuffix(name, " is repeated")
				if form, _ := url.ParseQuery(body); len(form[name]) < 2 {
					t.Fatalf("%q names no repeated parameter of %q", desc, body)
				}
				return
			}
			for _, s := range sentSecrets(authorization, body) {
				if len(s) >= 8 && strings.Contains(desc, s) {
					t.Fatalf("the error repeats the secret %q: %s", s, w.Body)
				}
			}
			return
		}
		form, perr := url.ParseQuery(body)
		if perr != nil {
			t.Fatalf("decoded a body that is not form encoding: %q", body)
		}
		for k, v := range form {
			if len(v) > 1 {
				t.Fatalf("decoded a request with %s repeated", k)
			}
		}
		if strings.Contains(rawQuery, "client_secret") {
			t.Fatalf("decoded a request with a secret in the URL")
		}
		var creds *oauth.ClientCredentials
		switch req := got.(type) {
		case oauth.TokenRequest:
			creds = &req.Credentials
			if req.GrantType != form.Get("grant_type") || req.Scope != form.Get("scope") {
				t.Fatalf("decoded %+v from %q", req, body)
			}
		case oauth.IntrospectRequest:
			creds = req.Caller.Credentials
			if req.Token == "" || req.Token != form.Get("token") {
				t.Fatalf("introspect token %q from %q", req.Token, body)
			}
			if creds == nil {
				if req.Caller.Bearer == "" || strings.TrimSpace(req.Caller.Bearer) != req.Caller.Bearer {
					t.Fatalf("bearer %q from %q", req.Caller.Bearer, authorization)
				}
				return
			}
		case oauth.RevokeRequest:
			creds = &req.Credentials
			if req.Token == "" || req.Token != form.Get("token") {
				t.Fatalf("revoke token %q from %q", req.Token, body)
			}
		default:
			t.Fatalf("decoded %T", got)
		}
		if creds.ClientID == "" || creds.Secret == "" {
			t.Fatalf("empty credentials %+v decoded", creds)
		}
		if id, secret, ok := basicOf(authorization); ok {
			if creds.ClientID != id || creds.Secret != secret {
				t.Fatalf("credentials %+v, but the Authorization header says %q:%q", creds, id, secret)
			}
			if form.Has("client_secret") {
				t.Fatal("two client authentication methods accepted")
			}
		} else if creds.ClientID != form.Get("client_id") || creds.Secret != form.Get("client_secret") {
			t.Fatalf("credentials %+v not the ones in the body %q", creds, body)
		}
	})
}

// basicOf decodes an HTTP Basic header independently of parseBasic.
func basicOf(h string) (id, secret string, ok bool) {
	scheme, value, found := strings.Cut(h, " ")
	if !found || !strings.EqualFold(scheme, "Basic") {
		return "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(value))
	if err != nil {
		return "", "", false
	}
	i, s, found := strings.Cut(string(raw), ":")
	if !found {
		return "", "", false
	}
	id, err1 := url.QueryUnescape(i)
	secret, err2 := url.QueryUnescape(s)
	return id, secret, err1 == nil && err2 == nil && id != "" && secret != ""
}

// sentSecrets are the secrets a request carries (Basic or client_secret).
func sentSecrets(authorization, body string) []string {
	var out []string
	if _, secret, ok := basicOf(authorization); ok {
		out = append(out, secret)
	}
	if form, err := url.ParseQuery(body); err == nil {
		out = append(out, form["client_secret"]...)
	}
	return out
}

// checkOAuthError asserts the RFC 6749 §5.2 rendering of e.
func checkOAuthError(t *testing.T, w *httptest.ResponseRecorder, e *apierror.Error) {
	t.Helper()
	want := 400
	if e.Is(oauth.ErrInvalidClient) {
		want = 401
		if !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Basic ") {
			t.Fatalf("invalid_client without a Basic challenge: %v", w.Header())
		}
	}
	if w.Code != want || w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("status %d (want %d), headers %v", w.Code, want, w.Header())
	}
	var body map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("body is not JSON: %s", w.Body)
	}
	if body["error"] != strings.ToLower(e.Reason) || len(body) > 2 {
		t.Fatalf("body %s for %v", w.Body, e)
	}
	if _, ok := body["error_description"].(string); !ok {
		t.Fatalf("no error_description: %s", w.Body)
	}
}

// FuzzParseBasic: Basic credentials round-trip through the encoding RFC 6749
// §2.3.1 prescribes (form-urlencode, then base64), whatever they contain,
// and anything parseBasic accepts has a client id and a secret.
func FuzzParseBasic(f *testing.F) {
	f.Add("a1", "s3cret", "")
	f.Add("a:1", "p%ss w:rd", "")
	f.Add("0190f8a0-0000-7000-8000-000000000000", "agentidp_sk_x", "")
	f.Add("é", "\x00\xff", "YTE6cw==")
	f.Add("", "", "Og==")
	f.Add("+", "%", "YSUyMDpi")
	f.Fuzz(func(t *testing.T, id, secret, raw string) {
		if id != "" && secret != "" {
			value := base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id) + ":" + url.QueryEscape(secret)))
			gotID, gotSecret, ok := parseBasic(value)
			if !ok || gotID != id || gotSecret != secret {
				t.Fatalf("parseBasic(encode(%q, %q)) = %q, %q, %v", id, secret, gotID, gotSecret, ok)
			}
		}
		if gotID, gotSecret, ok := parseBasic(raw); ok && (gotID == "" || gotSecret == "") {
			t.Fatalf("parseBasic(%q) accepted empty credentials", raw)
		}
	})
}
