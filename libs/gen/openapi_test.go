package gen_test

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The OpenAPI document describes exactly the REST API the gateway routes
// and the policy decides on: every route of policies/data/scopes.json is an
// operation of gen/openapi/agentidp.swagger.yaml with the same method and
// path, and the document has no other operation.
func TestOpenAPIMatchesTheRouteTable(t *testing.T) {
	b, err := os.ReadFile("openapi/agentidp.swagger.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Swagger string                               `yaml:"swagger"`
		Paths   map[string]map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil || doc.Swagger != "2.0" {
		t.Fatalf("not a Swagger 2.0 document: %v", err)
	}
	var operations []string
	for path, methods := range doc.Paths {
		for method := range methods {
			// The transcoder's field paths ({agent.agentId}) are the route
			// table's variables ({agentId}).
			p := strings.ReplaceAll(path, "{agent.agentId}", "{agentId}")
			operations = append(operations, strings.ToUpper(method)+" "+p)
		}
	}
	raw, err := os.ReadFile("../../policies/data/scopes.json")
	if err != nil {
		t.Fatal(err)
	}
	var table struct {
		Routes []struct{ Method, Path string } `json:"routes"`
	}
	if err := json.Unmarshal(raw, &table); err != nil {
		t.Fatal(err)
	}
	var routes []string
	for _, r := range table.Routes {
		routes = append(routes, r.Method+" "+r.Path)
	}
	slices.Sort(operations)
	slices.Sort(routes)
	if !slices.Equal(operations, routes) {
		t.Fatalf("the OpenAPI document's operations\n  %v\ndiffer from the policy's route table\n  %v", operations, routes)
	}
}
