// Package envoy holds the Envoy bootstrap template: the only Envoy
// configuration that is a file. It points Envoy at the control plane,
// which pushes everything else.
package envoy

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"text/template"
)

//go:embed bootstrap.yaml
var bootstrapTemplate string

var tmpl = template.Must(template.New("bootstrap.yaml").Funcs(template.FuncMap{
	// A JSON string is a valid YAML scalar, whatever it contains.
	"quote": func(s string) (string, error) {
		b, err := json.Marshal(s)
		return string(b), err
	},
}).Parse(bootstrapTemplate))

// Bootstrap says where the control plane and Envoy's admin interface are.
type Bootstrap struct {
	// XDSAddr is the control plane's ADS address, host:port.
	XDSAddr string
	// AdminAddr is where Envoy's admin interface listens, host:port. Keep it
	// on loopback: it can change and stop Envoy.
	AdminAddr string
	// NodeID must match the control plane's ENVOY_NODE_ID.
	NodeID string
}

// Render returns the bootstrap YAML.
func (b Bootstrap) Render() ([]byte, error) {
	if b.NodeID == "" {
		return nil, fmt.Errorf("bootstrap: node id is empty")
	}
	xdsHost, xdsPort, err := splitAddr("xds", b.XDSAddr)
	if err != nil {
		return nil, err
	}
	adminHost, adminPort, err := splitAddr("admin", b.AdminAddr)
	if err != nil {
		return nil, err
	}
	if _, err := netip.ParseAddr(adminHost); err != nil {
		return nil, fmt.Errorf("bootstrap: admin address %q: host must be an IP address", b.AdminAddr)
	}
	// A control plane named by host name (a container or Kubernetes
	// service) is resolved by Envoy and re-resolved when it moves.
	clusterType := "STRICT_DNS"
	if _, err := netip.ParseAddr(xdsHost); err == nil {
		clusterType = "STATIC"
	}
	var buf bytes.Buffer
	err = tmpl.Execute(&buf, map[string]any{
		"NodeID":         b.NodeID,
		"NodeCluster":    "agentidp-gateway",
		"AdminHost":      adminHost,
		"AdminPort":      adminPort,
		"XDSHost":        xdsHost,
		"XDSPort":        xdsPort,
		"XDSClusterType": clusterType,
	})
	if err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	return buf.Bytes(), nil
}

func splitAddr(what, addr string) (string, int, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("bootstrap: %s address %q is not host:port", what, addr)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 || host == "" {
		return "", 0, fmt.Errorf("bootstrap: %s address %q is not host:port", what, addr)
	}
	return host, port, nil
}
