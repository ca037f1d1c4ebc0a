package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestAgentLifecycleThroughTheGateway(t *testing.T) {
	skipShort(t)
	a := register(t, newAgent("lifecycle-bot"))
	id, _ := a["agentId"].(string)
	if len(id) != 36 || a["status"] != "active" || a["etag"] == "" || a["createdAt"] == nil || a["agentType"] != "assistant" {
		t.Fatalf("unexpected agent: %v", a)
	}

	got := call(t, "GET", "/v1/agents/"+id, nil)
	expect(t, got, http.StatusOK)
	if g := got.JSON(t); g["name"] != "lifecycle-bot" || g["etag"] != a["etag"] {
		t.Fatalf("GET returned %v", g)
	}

	// Rename with the etag we hold.
	r := call(t, "PATCH", "/v1/agents/"+id+"?updateMask=name,deploymentEnv",
		map[string]any{"name": "renamed-bot", "deploymentEnv": "staging", "etag": a["etag"]})
	expect(t, r, http.StatusOK)
	renamed := r.JSON(t)
	if renamed["name"] != "renamed-bot" || renamed["deploymentEnv"] != "staging" || renamed["etag"] == a["etag"] {
		t.Fatalf("PATCH returned %v", renamed)
	}

	// The old etag is stale now: in the body and as If-Match.
	r = call(t, "PATCH", "/v1/agents/"+id+"?updateMask=name", map[string]any{"name": "x", "etag": a["etag"]})
	expect(t, r, http.StatusConflict)
	if r.reason(t) != "ETAG_MISMATCH" {
		t.Fatalf("reason %s", r.Body)
	}
	r = call(t, "PATCH", "/v1/agents/"+id+"?updateMask=name", map[string]any{"name": "x"}, "If-Match", fmt.Sprintf("%q", a["etag"]))
	expect(t, r, http.StatusConflict)

	// Suspend and reactivate.
	for _, st := range []string{"suspended", "active"} {
		r = call(t, "PATCH", "/v1/agents/"+id+"?updateMask=status", map[string]any{"status": st})
		expect(t, r, http.StatusOK)
		if r.JSON(t)["status"] != st {
			t.Fatalf("status after PATCH: %s", r.Body)
		}
	}

	// Decommission; the second DELETE is harmless.
	r = call(t, "DELETE", "/v1/agents/"+id, nil)
	expect(t, r, http.StatusOK)
	gone := r.JSON(t)
	if gone["status"] != "decommissioned" || gone["decommissionedAt"] == nil {
		t.Fatalf("DELETE returned %v", gone)
	}
	r = call(t, "DELETE", "/v1/agents/"+id, nil)
	expect(t, r, http.StatusOK)
	if r.JSON(t)["etag"] != gone["etag"] {
		t.Fatalf("second DELETE changed the agent: %s", r.Body)
	}
	r = call(t, "PATCH", "/v1/agents/"+id+"?updateMask=status", map[string]any{"status": "active"})
	expect(t, r, http.StatusBadRequest)
	if r.reason(t) != "AGENT_DECOMMISSIONED" {
		t.Fatalf("reactivating a decommissioned agent: %s", r.Body)
	}
}

func TestBadInputGetsAClearError(t *testing.T) {
	skipShort(t)
	a := register(t, newAgent("target-of-bad-input"))
	id := a["agentId"].(string)
	bigMetadata := map[string]string{}
	for i := 0; i < 40; i++ {
		bigMetadata[fmt.Sprintf("key-%d", i)] = strings.Repeat("v", 200)
	}
	missingName := newAgent("")
	delete(missingName, "name")
	oversized := newAgent("big")
	oversized["metadata"] = bigMetadata

	tests := []struct {
		name, method, path string
		body               any
		status             int
		reason             string
	}{
		{"malformed JSON", "POST", "/v1/agents", `{"name": "x",`, 400, "MALFORMED_REQUEST"},
		{"wrong JSON type", "POST", "/v1/agents", `{"name": 42}`, 400, "MALFORMED_REQUEST"},
		{"missing name", "POST", "/v1/agents", missingName, 400, "FIELD_REQUIRED"},
		{"oversized metadata", "POST", "/v1/agents", oversized, 400, "METADATA_TOO_LARGE"},
		{"unknown field in mask", "PATCH", "/v1/agents/" + id + "?updateMask=name,colour", map[string]any{"name": "x"}, 400, "INVALID_UPDATE_MASK"},
		{"pageSize 0", "GET", "/v1/agents?pageSize=0", nil, 400, "INVALID_PAGE_SIZE"},
		{"pageSize 10000", "GET", "/v1/agents?pageSize=10000", nil, 400, "INVALID_PAGE_SIZE"},
		{"pageSize not a number", "GET", "/v1/agents?pageSize=ten", nil, 400, "MALFORMED_REQUEST"},
		{"garbage pageToken", "GET", "/v1/agents?pageToken=garbage", nil, 400, "INVALID_PAGE_TOKEN"},
		{"unknown query parameter", "GET", "/v1/agents?colour=red", nil, 400, "UNKNOWN_QUERY_PARAMETER"},
		{"bad status filter", "GET", "/v1/agents?status=zombie", nil, 400, "FIELD_INVALID"},
		{"malformed agent id", "GET", "/v1/agents/not-a-uuid", nil, 400, "FIELD_INVALID"},
		{"unknown agent", "GET", "/v1/agents/0190f8a0-0000-7000-8000-000000000000", nil, 404, "AGENT_NOT_FOUND"},
		{"unknown route", "GET", "/v1/nothing-here", nil, 404, "ROUTE_NOT_FOUND"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := call(t, tt.method, tt.path, tt.body)
			if r.Status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tt.status, r.Body)
			}
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Fatalf("Content-Type %q: %s", ct, r.Body)
			}
			if got := r.reason(t); got != tt.reason {
				t.Fatalf("reason %s, want %s: %s", got, tt.reason, r.Body)
			}
		})
	}
}

func TestListPagesEachAgentExactlyOnceAndFilters(t *testing.T) {
	skipShort(t)
	const n = 250
	owner := "pager-" + strings.ReplaceAll(t.Name(), "/", "-")
	want := map[string]bool{}
	for i := 0; i < n; i++ {
		body := newAgent(fmt.Sprintf("pager-%03d", i))
		body["owner"] = owner
		if i%10 == 0 {
			body["agentType"] = "crawler"
		}
		want[register(t, body)["agentId"].(string)] = true
	}

	seen := map[string]bool{}
	token := ""
	for pages := 0; ; pages++ {
		q := url.Values{"pageSize": {"7"}, "owner": {owner}}
		if token != "" {
			q.Set("pageToken", token)
		}
		r := call(t, "GET", "/v1/agents?"+q.Encode(), nil)
		expect(t, r, http.StatusOK)
		body := r.JSON(t)
		agents, _ := body["agents"].([]any)
		if len(agents) > 7 {
			t.Fatalf("page of %d", len(agents))
		}
		for _, a := range agents {
			id := a.(map[string]any)["agentId"].(string)
			if seen[id] {
				t.Fatalf("agent %s on two pages", id)
			}
			seen[id] = true
		}
		token, _ = body["nextPageToken"].(string)
		if token == "" {
			break
		}
		if pages > n {
			t.Fatal("paging does not end")
		}
	}
	if len(seen) != n {
		t.Fatalf("paged %d agents, want %d", len(seen), n)
	}
	for id := range want {
		if !seen[id] {
			t.Fatalf("agent %s never listed", id)
		}
	}

	filters := []struct {
		query string
		count int
	}{
		{"owner=" + owner + "&agentType=crawler&pageSize=100", 25},
		{"owner=" + owner + "&search=PAGER-00&pageSize=100", 10},
		{"owner=" + owner + "&status=suspended", 0},
		{"owner=nobody-at-all", 0},
	}
	for _, f := range filters {
		r := call(t, "GET", "/v1/agents?"+f.query, nil)
		expect(t, r, http.StatusOK)
		agents, _ := r.JSON(t)["agents"].([]any)
		if len(agents) != f.count {
			t.Fatalf("%s: %d agents, want %d", f.query, len(agents), f.count)
		}
	}
}

func TestHealthEndpoints(t *testing.T) {
	skipShort(t)
	expect(t, call(t, "GET", "/healthz", nil), http.StatusOK)
	r := call(t, "GET", "/readyz", nil)
	expect(t, r, http.StatusOK)
	if r.JSON(t)["status"] != "ready" {
		t.Fatalf("readyz: %s", r.Body)
	}
}
