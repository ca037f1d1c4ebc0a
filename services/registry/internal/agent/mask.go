package agent

import (
	"sort"
	"strings"
)

// maskFields maps every accepted update-mask path (proto snake_case, as
// gRPC clients and Envoy's transcoder send it, or JSON camelCase) to the
// field's JSON name.
var maskFields = map[string]string{
	"name": "name", "description": "description", "owner": "owner", "version": "version",
	"agent_type": "agentType", "agentType": "agentType",
	"deployment_env": "deploymentEnv", "deploymentEnv": "deploymentEnv",
	"capabilities": "capabilities", "scopes": "scopes", "metadata": "metadata", "status": "status",
}

// resolveMask turns update-mask paths into JSON field names. No paths means
// every field set (non-zero) in f; "*" means every field.
func resolveMask(paths []string, f Fields) ([]string, error) {
	if len(paths) == 0 {
		return setFields(f), nil
	}
	seen := map[string]bool{}
	var out []string
	for _, p := range paths {
		p = strings.TrimSpace(p)
		if p == "*" {
			if len(paths) > 1 {
				return nil, fieldError(errUpdateMask, "updateMask", `updateMask: "*" cannot be combined with other paths`)
			}
			return append([]string(nil), fieldNames...), nil
		}
		name, ok := maskFields[p]
		if !ok {
			return nil, fieldError(errUpdateMask, "updateMask",
				"updateMask: %q is not an updatable field; use one of %s", truncate(p, 64), strings.Join(updatable(), ", "))
		}
		if !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	return out, nil
}

func updatable() []string {
	names := append([]string(nil), fieldNames...)
	sort.Strings(names)
	return names
}

// setFields lists the fields of f that hold a non-zero value.
func setFields(f Fields) []string {
	var out []string
	add := func(name string, set bool) {
		if set {
			out = append(out, name)
		}
	}
	add("name", f.Name != "")
	add("owner", f.Owner != "")
	add("description", f.Description != "")
	add("agentType", f.AgentType != "")
	add("version", f.Version != "")
	add("deploymentEnv", f.DeploymentEnv != "")
	add("capabilities", len(f.Capabilities) > 0)
	add("scopes", len(f.Scopes) > 0)
	add("metadata", len(f.Metadata) > 0)
	add("status", f.Status != "")
	return out
}

// apply copies the named fields from f onto a.
func apply(a *Agent, f Fields, names []string) {
	for _, name := range names {
		switch name {
		case "name":
			a.Name = f.Name
		case "description":
			a.Description = f.Description
		case "owner":
			a.Owner = f.Owner
		case "agentType":
			a.AgentType = f.AgentType
		case "version":
			a.Version = f.Version
		case "deploymentEnv":
			a.DeploymentEnv = f.DeploymentEnv
		case "capabilities":
			a.Capabilities = f.Capabilities
		case "scopes":
			a.Scopes = f.Scopes
		case "metadata":
			a.Metadata = f.Metadata
		case "status":
			a.Status = f.Status
		}
	}
}
