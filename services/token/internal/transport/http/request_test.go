package http

import (
	"context"
	"encoding/base64"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/sentryagent/agentidp/libs/apierror"
	"github.com/sentryagent/agentidp/services/token/internal/oauth"
)

func TestCredentials(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name       string
		auth, body string
		mode       authMode
		id, secret string
		bearer     string
		err        error
	}{
		{name: "basic", auth: "Basic " + b64("a1:s3cret"), id: "a1", secret: "s3cret"},
		{name: "basic scheme is case-insensitive", auth: "basic " + b64("a1:s3cret"), id: "a1", secret: "s3cret"},
		// RFC 6749 §2.3.1: form-urlencoded before base64 (x/oauth2 does so).
		{name: "basic with encoded characters", auth: "Basic " + b64(url.QueryEscape("a:1")+":"+url.QueryEscape("p%ss w:rd")), id: "a:1", secret: "p%ss w:rd"},
		{name: "basic and the same client_id in the body", auth: "Basic " + b64("a1:s"), body: "client_id=a1", id: "a1", secret: "s"},
		{name: "basic and another client_id", auth: "Basic " + b64("a1:s"), body: "client_id=a2", err: oauth.ErrInvalidRequest},
		{name: "basic and a body secret", auth: "Basic " + b64("a1:s"), body: "client_secret=s", err: oauth.ErrInvalidRequest},
		{name: "basic without colon", auth: "Basic " + b64("a1"), err: oauth.ErrInvalidClient},
		{name: "basic with empty secret", auth: "Basic " + b64("a1:"), err: oauth.ErrInvalidClient},
		{name: "basic not base64", auth: "Basic !!", err: oauth.ErrInvalidClient},
		{name: "post", body: "client_id=a1&client_secret=s", id: "a1", secret: "s"},
		{name: "post without secret", body: "client_id=a1", err: oauth.ErrInvalidClient},
		{name: "nothing", err: oauth.ErrInvalidClient},
		{name: "bearer at the token endpoint", auth: "Bearer t", err: oauth.ErrInvalidClient},
		{name: "bearer at introspection", auth: "Bearer t", mode: clientOrBearer, bearer: "t"},
		{name: "bearer and a secret", auth: "Bearer t", body: "client_secret=s", mode: clientOrBearer, err: oauth.ErrInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/oauth2/token", strings.NewReader(tt.body))
			r.Header.Set("Content-Type", formType)
			if tt.auth != "" {
				r.Header.Set("Authorization", tt.auth)
			}
			form, err := readForm(r)
			if err != nil {
				t.Fatal(err)
			}
			creds, bearer, err := credentials(context.Background(), r, form, tt.mode)
			if tt.err != nil {
				if e := apierror.As(err); e == nil || !e.Is(tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if bearer != tt.bearer || (tt.id != "" && (creds == nil || creds.ClientID != tt.id || creds.Secret != tt.secret)) {
				t.Fatalf("got %+v %q", creds, bearer)
			}
		})
	}
}

func TestReadForm(t *testing.T) {
	tests := []struct {
		name, ctype, target, body string
		ok                        bool
	}{
		{"form", formType, "/", "a=1", true},
		{"form with charset", formType + "; charset=UTF-8", "/", "a=1", true},
		{"json", "application/json", "/", "{}", false},
		{"repeated", formType, "/", "a=1&a=2", false},
		{"secret in the URL", formType, "/?client_secret=x", "a=1", false},
		{"too large", formType, "/", "a=" + strings.Repeat("x", maxForm), false},
		{"bad encoding", formType, "/", "a=%zz", false},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("POST", tt.target, strings.NewReader(tt.body))
		r.Header.Set("Content-Type", tt.ctype)
		if _, err := readForm(r); (err == nil) != tt.ok {
			t.Errorf("%s: err = %v", tt.name, err)
		}
	}
}
