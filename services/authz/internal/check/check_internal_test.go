package check

import (
	"testing"
)

func TestBearer(t *testing.T) {
	tests := []struct {
		header string
		token  string
		scheme int
	}{
		{"", "", bearerAbsent},
		{"Bearer abc.def.ghi", "abc.def.ghi", bearerPresent},
		{"bearer   abc", "abc", bearerPresent},
		{"BEARER abc", "abc", bearerPresent},
		{"Basic Zm9vOmJhcg==", "", bearerAbsent},
		{"Bearer", "", bearerMalformed},
		{"Bearer ", "", bearerMalformed},
		{"Bearer a, Bearer b", "", bearerMalformed},
		{"Bearer a b", "", bearerMalformed},
		{"Bearerabc", "", bearerMalformed},
	}
	for _, tt := range tests {
		tok, scheme := bearer(tt.header)
		if tok != tt.token || scheme != tt.scheme {
			t.Errorf("%q: %q %d, want %q %d", tt.header, tok, scheme, tt.token, tt.scheme)
		}
	}
}

func TestWWWAuthenticate(t *testing.T) {
	s := New(Config{})
	tests := []struct {
		status                int
		reason, message, want string
	}{
		{401, ReasonUnauthenticated, "no token", `Bearer realm="agentidp"`},
		{401, ReasonTokenRevoked, `the "token" was revoked`, `Bearer realm="agentidp", error="invalid_token", error_description="the token was revoked"`},
		{403, ReasonInsufficient, "needs a scope", `Bearer realm="agentidp", error="insufficient_scope", scope="agents:read", error_description="needs a scope"`},
		{429, ReasonRateLimited, "slow down", ``},
	}
	for _, tt := range tests {
		scope := ""
		if tt.status == 403 {
			scope = "agents:read"
		}
		if got := s.wwwAuthenticate(tt.status, tt.reason, tt.message, scope); got != tt.want {
			t.Errorf("%d %s: %q, want %q", tt.status, tt.reason, got, tt.want)
		}
	}
	if body := errorBody(403, ReasonPolicyDenied, "no", "r-1"); body != `{"code":7,"message":"no","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"POLICY_DENIED","domain":"agentidp.dev","metadata":{"requestId":"r-1"}}]}` {
		t.Errorf("body %s", body)
	}
}
