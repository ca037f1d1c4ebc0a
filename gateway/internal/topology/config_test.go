package topology

import (
	"context"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		// wantErrs are substrings the error must contain; none means valid.
		wantErrs []string
	}{
		{
			name: "valid",
			yaml: "listener: {address: 127.0.0.1, port: 8080}\nservices:\n  registry: {endpoints: [\"127.0.0.1:9101\", \"registry.internal:9101\"]}\n",
		},
		{
			name: "IPv6 endpoint",
			yaml: "listener: {address: '::', port: 8080}\nservices: {registry: {endpoints: ['[::1]:9101']}}\n",
		},
		{
			name:     "unknown service",
			yaml:     "listener: {address: 127.0.0.1, port: 8080}\nservices: {registry: {endpoints: ['127.0.0.1:1']}, regsitry: {endpoints: ['127.0.0.1:2']}}\n",
			wantErrs: []string{"services.regsitry: unknown service (known: credentials, registry"},
		},
		{
			name:     "endpoint without port",
			yaml:     "listener: {address: 127.0.0.1, port: 8080}\nservices: {registry: {endpoints: ['127.0.0.1']}}\n",
			wantErrs: []string{`services.registry.endpoints[0]: "127.0.0.1" is not host:port`},
		},
		{
			name:     "endpoint with a bad port",
			yaml:     "listener: {address: 127.0.0.1, port: 8080}\nservices: {registry: {endpoints: ['127.0.0.1:1', 'h:99999', ':80']}}\n",
			wantErrs: []string{`services.registry.endpoints[1]: "h:99999": port "99999" is not a port`, `services.registry.endpoints[2]: ":80" has no host`},
		},
		{
			name:     "empty endpoints",
			yaml:     "listener: {address: 127.0.0.1, port: 8080}\nservices: {registry: {endpoints: []}}\n",
			wantErrs: []string{"services.registry.endpoints: empty"},
		},
		{
			name:     "duplicate endpoint",
			yaml:     "listener: {address: 127.0.0.1, port: 8080}\nservices: {registry: {endpoints: ['127.0.0.1:1', '127.0.0.1:1']}}\n",
			wantErrs: []string{`services.registry.endpoints[1]: "127.0.0.1:1" is listed twice`},
		},
		{
			name:     "listener is a name",
			yaml:     "listener: {address: localhost, port: 0}\nservices: {registry: {endpoints: ['127.0.0.1:1']}}\n",
			wantErrs: []string{`listener.address: "localhost" is not an IP address`, "listener.port: 0 is not a port"},
		},
		{
			name:     "no services",
			yaml:     "listener: {address: 127.0.0.1, port: 8080}\n",
			wantErrs: []string{"services: none configured"},
		},
		{
			name:     "misspelt key",
			yaml:     "listener: {address: 127.0.0.1, port: 8080}\nservices: {registry: {endpoint: ['127.0.0.1:1']}}\n",
			wantErrs: []string{"field endpoint not found"},
		},
		{
			name: "rate limits",
			yaml: "listener: {address: 127.0.0.1, port: 8080}\nservices: {registry: {endpoints: ['127.0.0.1:1']}}\nrateLimits: {oauth: {perSecond: 20, burst: 40}}\n",
		},
		{
			name:     "bad rate limits",
			yaml:     "listener: {address: 127.0.0.1, port: 8080}\nservices: {registry: {endpoints: ['127.0.0.1:1']}}\nrateLimits: {oauth: {perSecond: -1, burst: 2000000000}}\n",
			wantErrs: []string{"rateLimits.oauth.perSecond: -1 is not between 0", "rateLimits.oauth.burst: 2000000000 is not between 0"},
		},
		{
			name:     "misspelt rate limit",
			yaml:     "listener: {address: 127.0.0.1, port: 8080}\nservices: {registry: {endpoints: ['127.0.0.1:1']}}\nrateLimits: {oauth: {rate: 5}}\n",
			wantErrs: []string{"field rate not found"},
		},
		{
			name:     "empty file",
			yaml:     "",
			wantErrs: []string{"config file is empty"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tt.yaml))
			if len(tt.wantErrs) == 0 {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if cfg == nil || len(cfg.Services) == 0 {
					t.Fatalf("Parse returned %+v", cfg)
				}
				return
			}
			if err == nil {
				t.Fatalf("Parse accepted %q", tt.yaml)
			}
			for _, want := range tt.wantErrs {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
		})
	}
}

func TestOAuthLimit(t *testing.T) {
	for _, tt := range []struct {
		in   *Limit
		want Limit
	}{
		{nil, DefaultOAuthLimit},
		{&Limit{PerSecond: 5}, Limit{PerSecond: 5, Burst: 10}},
		{&Limit{PerSecond: 5, Burst: 7}, Limit{PerSecond: 5, Burst: 7}},
		{&Limit{}, Limit{}}, // off
	} {
		cfg := &Config{RateLimits: RateLimits{OAuth: tt.in}}
		if got := cfg.OAuthLimit(); got != tt.want {
			t.Errorf("OAuthLimit(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

type fakeResolver map[string][]netip.Addr

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if ips, ok := f[host]; ok {
		return ips, nil
	}
	return nil, errors.New("no such host")
}

func TestResolve(t *testing.T) {
	r := fakeResolver{
		"registry.internal": {netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.1")},
		"dup":               {netip.MustParseAddr("10.0.0.1")},
	}
	tests := []struct {
		name      string
		endpoints []string
		want      []string
		wantErr   string
	}{
		{name: "IPs pass through", endpoints: []string{"127.0.0.1:2", "127.0.0.1:1"}, want: []string{"127.0.0.1:1", "127.0.0.1:2"}},
		{name: "a name becomes all its addresses", endpoints: []string{"registry.internal:9101"}, want: []string{"10.0.0.1:9101", "10.0.0.2:9101"}},
		{name: "duplicates after resolution collapse", endpoints: []string{"registry.internal:1", "dup:1"}, want: []string{"10.0.0.1:1", "10.0.0.2:1"}},
		{name: "IPv4-mapped IPv6 is unmapped", endpoints: []string{"[::ffff:127.0.0.1]:1"}, want: []string{"127.0.0.1:1"}},
		{name: "unresolvable", endpoints: []string{"nowhere:1"}, wantErr: `services.registry.endpoints[0]: resolve "nowhere"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &Config{Listener: Listener{Address: "127.0.0.1", Port: 8080},
				Services: map[string]Service{"registry": {Endpoints: tt.endpoints}}}
			res, err := cfg.Resolve(context.Background(), r)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, ap := range res.Endpoints["registry"] {
				got = append(got, ap.String())
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("endpoints = %v, want %v", got, tt.want)
			}
			if res.Listener.String() != "127.0.0.1:8080" {
				t.Errorf("listener = %s", res.Listener)
			}
		})
	}
}

func TestHasNames(t *testing.T) {
	for _, tt := range []struct {
		eps  []string
		want bool
	}{
		{[]string{"127.0.0.1:1", "[::1]:2"}, false},
		{[]string{"127.0.0.1:1", "registry:2"}, true},
	} {
		cfg := &Config{Services: map[string]Service{"registry": {Endpoints: tt.eps}}}
		if got := cfg.HasNames(); got != tt.want {
			t.Errorf("HasNames(%v) = %v, want %v", tt.eps, got, tt.want)
		}
	}
}

func TestExampleConfigIsValid(t *testing.T) {
	if _, err := Load("../../gateway.example.yaml"); err != nil {
		t.Fatal(err)
	}
}
