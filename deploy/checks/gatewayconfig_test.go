package checks

import (
	"slices"
	"sort"
	"testing"

	"sigs.k8s.io/yaml"
)

// gatewayConfig is the control plane's config file (gateway/README.md).
type gatewayConfig struct {
	Listener struct {
		Address string `json:"address"`
		Port    int    `json:"port"`
	} `json:"listener"`
	Services map[string]struct {
		Endpoints []string `json:"endpoints"`
	} `json:"services"`
}

func parseGatewayConfig(t *testing.T, what string, data []byte) *gatewayConfig {
	t.Helper()
	var cfg gatewayConfig
	// Strict, as the control plane reads it (unknown keys are errors).
	if err := yaml.UnmarshalStrict(data, &cfg); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return &cfg
}

// checkGatewayConfig checks a deployment's gateway config against the
// catalog: Envoy listens on every interface on listenerPort, and every
// routed service is listed with endpoints at hostFor(service) on the
// service's serving port.
func checkGatewayConfig(t *testing.T, m *mesh, what string, cfg *gatewayConfig, listenerPort int, hostFor func(service string) string) {
	t.Helper()
	if cfg.Listener.Address != "0.0.0.0" {
		t.Errorf("%s: listener.address %q, want 0.0.0.0 (the gateway's network namespace is shared with its load balancer's traffic)", what, cfg.Listener.Address)
	}
	if cfg.Listener.Port != listenerPort {
		t.Errorf("%s: listener.port %d, want %d", what, cfg.Listener.Port, listenerPort)
	}
	var listed []string
	for name := range cfg.Services {
		listed = append(listed, name)
	}
	sort.Strings(listed)
	want := slices.Clone(m.Routed)
	sort.Strings(want)
	if !slices.Equal(listed, want) {
		t.Errorf("%s: lists services %v, the gateway's catalog routes %v (gateway/internal/catalog)", what, listed, want)
	}
	for name, svc := range cfg.Services {
		s := m.Services[name]
		if s == nil {
			continue
		}
		if len(svc.Endpoints) == 0 {
			t.Errorf("%s: services.%s has no endpoints", what, name)
		}
		for _, ep := range svc.Endpoints {
			host, port, ok := splitHostPort(ep)
			switch {
			case !ok:
				t.Errorf("%s: services.%s endpoint %q is not host:port", what, name, ep)
			case host != hostFor(name) || port != s.ServePort():
				t.Errorf("%s: services.%s endpoint %q, want %s:%d (%s's %s)", what, name, ep, hostFor(name), s.ServePort(), name, s.ServeVar())
			}
		}
	}
}
