package oauth

import (
	"reflect"
	"testing"
)

func TestScopes(t *testing.T) {
	tests := []struct {
		in, allowed string
		want        []string
		parseOK     bool
		grantOK     bool
	}{
		{"", "a b", []string{"a", "b"}, true, true},
		{"b", "a b", []string{"b"}, true, true},
		{"b  a b", "a b", []string{"b", "a"}, true, true},
		{"c", "a b", nil, true, false},
		{`a"`, "a", nil, false, false},
		{"a\\b", "a", nil, false, false},
		{"agents:read tokens:introspect", "agents:read tokens:introspect", []string{"agents:read", "tokens:introspect"}, true, true},
	}
	for _, tt := range tests {
		req, ok := ParseScope(tt.in)
		if ok != tt.parseOK {
			t.Errorf("ParseScope(%q) ok = %v", tt.in, ok)
			continue
		}
		if !ok {
			continue
		}
		allowed, _ := ParseScope(tt.allowed)
		got, ok := grant(req, allowed)
		if ok != tt.grantOK || (ok && !reflect.DeepEqual(got, tt.want)) {
			t.Errorf("grant(%q, %q) = %v, %v", tt.in, tt.allowed, got, ok)
		}
	}
}
