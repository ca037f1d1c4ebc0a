package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sentryagent/agentidp/libs/testkit"
)

// ownedClient registers, as the platform admin, an agent of owner holding
// scopes, with a credential and a token.
func ownedClient(t *testing.T, owner string, scopes ...string) agentClient {
	t.Helper()
	body := newAgent("tenant-" + owner)
	body["owner"], body["scopes"] = owner, scopes
	id := register(t, body)["agentId"].(string)
	r := call(t, "POST", "/v1/agents/"+id+"/credentials", map[string]any{})
	expect(t, r, http.StatusCreated)
	c := agentClient{id: id, secret: r.JSON(t)["clientSecret"].(string)}
	c.credentialID = r.JSON(t)["credential"].(map[string]any)["credentialId"].(string)
	tok, err := fetchToken(c.id, c.secret, "")
	if err != nil {
		t.Fatal(err)
	}
	c.token = tok
	return c
}

// withoutRequestID drops the request id from an error body, the one part
// that differs between two answers to the same question.
func withoutRequestID(t *testing.T, r response) string {
	t.Helper()
	return regexp.MustCompile(`"requestId":"[^"]*"`).ReplaceAllString(string(r.Body), `"requestId":""`)
}

// TestTwoOwnersOnOneDeployment: neither owner reads, lists, changes,
// suspends, credentials or reads the audit of the other's agents, through
// the real gateway; another owner's agent answers exactly what an agent
// that does not exist answers; the platform admin reaches both.
func TestTwoOwnersOnOneDeployment(t *testing.T) {
	skipShort(t)
	suffix := time.Now().UnixNano()
	ownerA, ownerB := fmt.Sprintf("team-a-%d", suffix), fmt.Sprintf("team-b %d", suffix) // an owner may hold a space
	all := []string{"agents:read", "agents:write", "credentials:write", "audit:read"}
	a := ownedClient(t, ownerA, all...)
	b := ownedClient(t, ownerB, all...)
	bWorker := ownedClient(t, ownerB) // holds no scope: within anyone's reach but for the owner
	bWorkerPath := "/v1/agents/" + bWorker.id

	// Another owner's agent does not exist: the same 404 as an unknown id.
	unknown := "0190f8a0-0000-7000-8000-00000000dead"
	for _, tc := range []struct{ method, path string }{
		{"GET", "/v1/agents/%s"},
		{"GET", "/v1/agents/%s/credentials"},
		{"DELETE", "/v1/agents/%s"},
	} {
		theirs := callAs(t, a.token, tc.method, fmt.Sprintf(tc.path, bWorker.id), nil)
		none := callAs(t, a.token, tc.method, fmt.Sprintf(tc.path, unknown), nil)
		if theirs.Status != 404 || theirs.reason(t) != "AGENT_NOT_FOUND" {
			t.Fatalf("%s %s of another owner's agent: %d %s", tc.method, tc.path, theirs.Status, theirs.Body)
		}
		want := strings.ReplaceAll(withoutRequestID(t, none), unknown, bWorker.id)
		if got := withoutRequestID(t, theirs); got != want {
			t.Fatalf("%s %s: another owner's agent answers\n%s\nan unknown agent\n%s", tc.method, tc.path, got, want)
		}
	}
	for _, tc := range []struct {
		method, path string
		body         any
		status       int
	}{
		{"PATCH", bWorkerPath + "?updateMask=description", map[string]any{"description": "mine"}, 404},
		{"PATCH", bWorkerPath + "?updateMask=status", map[string]any{"status": "suspended"}, 404},
		{"POST", bWorkerPath + "/credentials", map[string]any{}, 404},
		{"POST", bWorkerPath + "/credentials/" + bWorker.credentialID + ":rotate", map[string]any{}, 404},
		{"DELETE", bWorkerPath + "/credentials/" + bWorker.credentialID, nil, 404},
		// Registering for another owner, or moving one's agent to it.
		{"POST", "/v1/agents", map[string]any{"name": "smuggled", "owner": ownerB}, 403},
		{"PATCH", "/v1/agents/" + a.id + "?updateMask=owner", map[string]any{"owner": ownerB}, 403},
		// The chain spans every owner.
		{"GET", "/v1/audit/verify", nil, 403},
	} {
		r := callAs(t, a.token, tc.method, tc.path, tc.body)
		if r.Status != tc.status {
			t.Fatalf("%s %s by another owner: %d, want %d: %s", tc.method, tc.path, r.Status, tc.status, r.Body)
		}
	}
	// Nothing changed: B's worker is active, its credential works.
	if got := call(t, "GET", bWorkerPath, nil).JSON(t); got["status"] != "active" || got["description"] == "mine" {
		t.Fatalf("B's agent after A's attempts: %v", got)
	}
	if _, err := fetchToken(bWorker.id, bWorker.secret, ""); err != nil {
		t.Fatalf("B's credential after A's attempts: %v", err)
	}

	// Lists: each owner its own, whatever it filters on.
	for _, c := range []struct {
		client agentClient
		owner  string
	}{{a, ownerA}, {b, ownerB}} {
		for _, q := range []string{"?pageSize=100", "?pageSize=100&owner=" + url.QueryEscape(ownerA), "?pageSize=100&owner=" + url.QueryEscape(ownerB)} {
			r := callAs(t, c.client.token, "GET", "/v1/agents"+q, nil)
			expect(t, r, http.StatusOK)
			agents, _ := r.JSON(t)["agents"].([]any)
			for _, ag := range agents {
				if o := ag.(map[string]any)["owner"]; o != c.owner {
					t.Fatalf("%s listed an agent of %v (%s)", c.owner, o, q)
				}
			}
			if strings.Contains(q, url.QueryEscape(c.owner)) || q == "?pageSize=100" {
				if len(agents) == 0 {
					t.Fatalf("%s sees none of its own agents (%s)", c.owner, q)
				}
			}
		}
	}

	// Audit: B's events are B's. A reads none of them, by any filter.
	var bEvent string
	eventually(t, 10*time.Second, func() error {
		r := callAs(t, b.token, "GET", "/v1/audit/events?agentId="+bWorker.id, nil)
		events, _ := r.JSON(t)["events"].([]any)
		if len(events) == 0 {
			return fmt.Errorf("no audit event of B's worker yet: %s", r.Body)
		}
		bEvent = events[0].(map[string]any)["eventId"].(string)
		for _, e := range events {
			if o := e.(map[string]any)["owner"]; o != ownerB {
				return fmt.Errorf("B's worker's event of owner %v", o)
			}
		}
		return nil
	})
	for _, q := range []string{"?agentId=" + bWorker.id, "?owner=" + url.QueryEscape(ownerB), "?pageSize=1000"} {
		r := callAs(t, a.token, "GET", "/v1/audit/events"+q, nil)
		expect(t, r, http.StatusOK)
		events, _ := r.JSON(t)["events"].([]any)
		for _, e := range events {
			if o := e.(map[string]any)["owner"]; o != ownerA {
				t.Fatalf("A read an audit event of %v (%s)", o, q)
			}
		}
	}
	r := callAs(t, a.token, "GET", "/v1/audit/events/"+bEvent, nil)
	if r.Status != 404 || r.reason(t) != "AUDIT_EVENT_NOT_FOUND" {
		t.Fatalf("A reading B's audit event: %d %s", r.Status, r.Body)
	}

	// The platform admin reaches both owners.
	expect(t, call(t, "GET", bWorkerPath, nil), http.StatusOK)
	expect(t, call(t, "GET", "/v1/agents/"+a.id, nil), http.StatusOK)
	expect(t, call(t, "GET", "/v1/audit/events/"+bEvent, nil), http.StatusOK)
	expect(t, call(t, "GET", "/v1/audit/verify", nil), http.StatusOK)
	expect(t, call(t, "PATCH", bWorkerPath+"?updateMask=status", map[string]any{"status": "suspended"}), http.StatusOK)
	expect(t, call(t, "PATCH", bWorkerPath+"?updateMask=status", map[string]any{"status": "active"}), http.StatusOK)
}

// TestNoEscalation: an agent holding credentials:write (and other scopes)
// obtains neither a credential nor a token for an agent with scopes it
// lacks, nor for an agent of another owner, and cannot rotate or revoke
// another owner's credential — the takeover of the bootstrap admin included.
func TestNoEscalation(t *testing.T) {
	skipShort(t)
	owner := fmt.Sprintf("team-esc-%d", time.Now().UnixNano())
	attacker := ownedClient(t, owner, "credentials:write", "agents:read", "agents:write")
	stronger := ownedClient(t, owner, "agents:read", "audit:read")
	stranger := ownedClient(t, owner+"-other", "agents:read")

	for _, tc := range []struct {
		name, method, path string
		body               any
		status             int
		reason             string
	}{
		{"a credential for the platform admin", "POST", "/v1/agents/" + admin.ClientID + "/credentials", map[string]any{}, 404, "AGENT_NOT_FOUND"},
		{"a credential for a stronger agent", "POST", "/v1/agents/" + stronger.id + "/credentials", map[string]any{}, 403, "POLICY_DENIED"},
		{"rotating a stronger agent's credential", "POST", "/v1/agents/" + stronger.id + "/credentials/" + stronger.credentialID + ":rotate", map[string]any{}, 403, "POLICY_DENIED"},
		{"revoking a stronger agent's credential", "DELETE", "/v1/agents/" + stronger.id + "/credentials/" + stronger.credentialID, nil, 403, "POLICY_DENIED"},
		{"suspending a stronger agent", "PATCH", "/v1/agents/" + stronger.id + "?updateMask=status", map[string]any{"status": "suspended"}, 403, "POLICY_DENIED"},
		{"stripping a stronger agent's scopes", "PATCH", "/v1/agents/" + stronger.id + "?updateMask=scopes", map[string]any{"scopes": []string{}}, 403, "POLICY_DENIED"},
		{"decommissioning a stronger agent", "DELETE", "/v1/agents/" + stronger.id, nil, 403, "POLICY_DENIED"},
		{"granting itself audit:read through a new agent", "POST", "/v1/agents", map[string]any{"name": "x", "scopes": []string{"audit:read"}}, 403, "POLICY_DENIED"},
		{"a credential for another owner's agent", "POST", "/v1/agents/" + stranger.id + "/credentials", map[string]any{}, 404, "AGENT_NOT_FOUND"},
		{"rotating another owner's credential", "POST", "/v1/agents/" + stranger.id + "/credentials/" + stranger.credentialID + ":rotate", map[string]any{}, 404, "AGENT_NOT_FOUND"},
		{"revoking another owner's credential", "DELETE", "/v1/agents/" + stranger.id + "/credentials/" + stranger.credentialID, nil, 404, "AGENT_NOT_FOUND"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := callAs(t, attacker.token, tc.method, tc.path, tc.body)
			if r.Status != tc.status || r.reason(t) != tc.reason {
				t.Fatalf("%d %s, want %d %s", r.Status, r.Body, tc.status, tc.reason)
			}
		})
	}
	// The victims' credentials still work, and nothing was minted for them.
	for _, v := range []agentClient{stronger, stranger} {
		if _, err := fetchToken(v.id, v.secret, ""); err != nil {
			t.Fatalf("victim %s: %v", v.id, err)
		}
		creds, _ := call(t, "GET", "/v1/agents/"+v.id+"/credentials", nil).JSON(t)["credentials"].([]any)
		if len(creds) != 1 {
			t.Fatalf("victim %s has %d credentials", v.id, len(creds))
		}
	}

	// Within its reach it may: a weaker agent of its own owner.
	weaker := ownedClient(t, owner, "agents:read")
	expect(t, callAs(t, attacker.token, "POST", "/v1/agents/"+weaker.id+"/credentials", map[string]any{}), http.StatusCreated)

	// An agent rotates its own credential without credentials:write, with a
	// token carrying all its scopes; a token narrowed below its agent cannot.
	path := "/v1/agents/" + stronger.id + "/credentials/" + stronger.credentialID + ":rotate"
	narrowed, err := fetchToken(stronger.id, stronger.secret, "agents:read")
	if err != nil {
		t.Fatal(err)
	}
	if r := callAs(t, narrowed, "POST", path, map[string]any{}); r.Status != 403 || r.reason(t) != "POLICY_DENIED" {
		t.Fatalf("self rotation with a narrowed token: %d %s", r.Status, r.Body)
	}
	r := callAs(t, stronger.token, "POST", path, map[string]any{"gracePeriodSeconds": 60})
	expect(t, r, http.StatusOK)
	if _, err := fetchToken(stronger.id, r.JSON(t)["clientSecret"].(string), ""); err != nil {
		t.Fatalf("the rotated secret: %v", err)
	}
}

// route is one row of the policy's route table (policies/data/scopes.json).
type route struct {
	Operation string            `json:"operation"`
	Method    string            `json:"method"`
	Path      string            `json:"path"`
	Body      string            `json:"body"`
	Fields    map[string]string `json:"fields"`
}

func routeTable(t *testing.T) []route {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(mesh.PolicyDir(), "data", "scopes.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Routes []route `json:"routes"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Routes
}

var pathVariable = regexp.MustCompile(`\{([^}]+)\}`)

// TestPathVariablesAreThePaths: for every route of the policy's table,
// through the real Envoy, a query parameter or body member that binds one
// of the route's path variables — in each spelling the transcoder accepts —
// to another value than the path's is refused with 400 before any service
// sees it; one that repeats the path's value is not.
func TestPathVariablesAreThePaths(t *testing.T) {
	skipShort(t)
	caller := newAgentClient(t, "agents:read", "agents:write", "credentials:write", "audit:read", "platform:admin")
	victim := register(t, newAgent("rebind-victim"))["agentId"].(string)
	// The values the path holds: the caller's own agent and credential.
	var eventID string
	eventually(t, 10*time.Second, func() error {
		events, _ := call(t, "GET", "/v1/audit/events?agentId="+caller.id, nil).JSON(t)["events"].([]any)
		if len(events) == 0 {
			return fmt.Errorf("no audit event for %s yet", caller.id)
		}
		eventID = events[0].(map[string]any)["eventId"].(string)
		return nil
	})
	own := map[string]string{"agentId": caller.id, "credentialId": caller.credentialID, "eventId": eventID}
	other := map[string]string{"agentId": victim, "credentialId": "0190f8a0-0000-7000-8000-00000000c0de", "eventId": "0190f8a0-0000-7000-8000-00000000e0e0"}

	spellings := func(field string) []string {
		snake := regexp.MustCompile(`([a-z])([A-Z])`).ReplaceAllString(field, "${1}_${2}")
		return []string{field, strings.ToLower(snake)}
	}
	tested := 0
	for _, rt := range routeTable(t) {
		vars := pathVariable.FindAllStringSubmatch(rt.Path, -1)
		if len(vars) == 0 {
			continue
		}
		path := pathVariable.ReplaceAllStringFunc(rt.Path, func(m string) string { return own[m[1:len(m)-1]] })
		for _, v := range vars {
			name := v[1]
			field := name
			if f, ok := rt.Fields[name]; ok {
				field = f
			}
			sep := "?"
			if rt.Operation == "UpdateAgent" {
				path, sep = path+"?updateMask=description", "&"
			}
			var body any
			if rt.Body != "" {
				body = map[string]any{}
			}
			for _, key := range spellings(field) {
				r := callAs(t, caller.token, rt.Method, path+sep+url.QueryEscape(key)+"="+other[name], body)
				if r.Status != 400 || r.reason(t) != "MALFORMED_REQUEST" || !strings.Contains(string(r.Body), "another value than the path") {
					t.Errorf("%s %s with query %s=<other>: %d %s", rt.Method, rt.Path, key, r.Status, r.Body)
				}
				tested++
			}
			if rt.Body != "" {
				rel := field
				if rt.Body != "*" {
					rel = strings.TrimPrefix(field, rt.Body+".")
				}
				for _, key := range spellings(rel) {
					r := callAs(t, caller.token, rt.Method, path, map[string]any{key: other[name], "description": "d"})
					if r.Status != 400 || r.reason(t) != "MALFORMED_REQUEST" || !strings.Contains(string(r.Body), "another value than the path") {
						t.Errorf("%s %s with body %s=<other>: %d %s", rt.Method, rt.Path, key, r.Status, r.Body)
					}
					tested++
				}
				// Duplicate keys: the transcoder would take the last one.
				dup := fmt.Sprintf(`{"%s":"%s","%s":"%s"}`, rel, own[name], rel, other[name])
				if r := callAs(t, caller.token, rt.Method, path, dup, "Content-Type", "application/json"); r.Status != 400 {
					t.Errorf("%s %s with a duplicated %s: %d %s", rt.Method, rt.Path, rel, r.Status, r.Body)
				}
			}
			// The path's own value, repeated, is not a rebinding (reads only:
			// a write would change the caller's own agent or credential).
			if rt.Method == "GET" {
				r := callAs(t, caller.token, rt.Method, path+sep+url.QueryEscape(field)+"="+strings.ToUpper(own[name]), body)
				if r.Status != http.StatusOK {
					t.Errorf("%s %s repeating its own %s: %d %s", rt.Method, rt.Path, name, r.Status, r.Body)
				}
			}
		}
	}
	if tested < 20 {
		t.Fatalf("only %d rebinding attempts: does the route table still have path variables?", tested)
	}
	// The victim was never touched.
	if got := call(t, "GET", "/v1/agents/"+victim, nil).JSON(t); got["status"] != "active" || got["description"] == "d" {
		t.Fatalf("victim after the attempts: %v", got)
	}
}

// TestIntrospectionAgreesWithAuthz: over a matrix of token states, a token
// is active at /oauth2/introspect exactly when the gateway accepts it (an
// agent may always read itself, so a 401 is the only refusal), and
// introspection's scope is what the token may still do.
func TestIntrospectionAgreesWithAuthz(t *testing.T) {
	skipShort(t)
	signer, err := testkit.ReadTokenSigner(context.Background(), mesh.VaultAddr(), mesh.VaultToken())
	if err != nil {
		t.Fatal(err)
	}
	owner := fmt.Sprintf("team-intro-%d", time.Now().UnixNano())
	now := time.Now().Unix()
	craft := func(c agentClient, over map[string]any) string {
		claims := map[string]any{"iss": mesh.GatewayURL(), "sub": c.id, "aud": "agentidp", "exp": now + 600,
			"iat": now - 5, "jti": fmt.Sprintf("intro-%d", time.Now().UnixNano()), "client_id": c.id,
			"scope": "agents:read", "credential_id": c.credentialID, "owner": owner}
		for k, v := range over {
			if v == nil {
				delete(claims, k)
			} else {
				claims[k] = v
			}
		}
		return signer.Sign(nil, claims)
	}
	status := func(c agentClient, s string) {
		expect(t, call(t, "PATCH", "/v1/agents/"+c.id+"?updateMask=status", map[string]any{"status": s}), http.StatusOK)
	}

	type state struct {
		name   string
		token  string
		agent  agentClient
		active bool
		scope  string // when active
	}
	var states []state
	add := func(name string, c agentClient, tok string, active bool, scope string) {
		states = append(states, state{name, tok, c, active, scope})
	}

	fresh := ownedClient(t, owner, "agents:read", "audit:read")
	add("fresh", fresh, fresh.token, true, "agents:read audit:read")
	add("crafted, valid", fresh, craft(fresh, nil), true, "agents:read")
	add("without an owner claim (issued before owners)", fresh, craft(fresh, map[string]any{"owner": nil}), true, "agents:read")
	add("expired", fresh, craft(fresh, map[string]any{"exp": now - 120, "iat": now - 1000}), false, "")
	add("issued in the future", fresh, craft(fresh, map[string]any{"iat": now + 600, "exp": now + 1200}), false, "")
	add("not yet valid", fresh, craft(fresh, map[string]any{"nbf": now + 600}), false, "")
	add("wrong audience", fresh, craft(fresh, map[string]any{"aud": "billing"}), false, "")
	add("wrong issuer", fresh, craft(fresh, map[string]any{"iss": "https://idp.example"}), false, "")
	add("no client_id", fresh, craft(fresh, map[string]any{"client_id": nil}), false, "")
	add("another owner's claim", fresh, craft(fresh, map[string]any{"owner": owner + "-x"}), false, "")
	ghost := agentClient{id: "0190f8a0-0000-7000-8000-0000000000a1", credentialID: fresh.credentialID}
	add("unknown agent", ghost, craft(ghost, nil), false, "")
	parts := strings.Split(fresh.token, ".")
	add("bad signature", fresh, parts[0]+"."+parts[1]+"."+strings.Repeat("A", len(parts[2])), false, "")

	revokedJTI := ownedClient(t, owner, "agents:read")
	tok := revokedJTI.newToken(t)
	revokedJTI.revoke(t, tok)
	add("revoked token", revokedJTI, tok, false, "")
	add("another token of the same agent", revokedJTI, revokedJTI.token, true, "agents:read")

	revokedCred := ownedClient(t, owner, "agents:read")
	expect(t, call(t, "DELETE", "/v1/agents/"+revokedCred.id+"/credentials/"+revokedCred.credentialID, nil), http.StatusOK)
	add("credential revoked", revokedCred, revokedCred.token, false, "")

	suspended := ownedClient(t, owner, "agents:read")
	status(suspended, "suspended")
	add("agent suspended", suspended, suspended.token, false, "")

	reactivated := ownedClient(t, owner, "agents:read")
	old := reactivated.token
	status(reactivated, "suspended")
	time.Sleep(1100 * time.Millisecond) // suspensions are recorded to the second
	status(reactivated, "active")
	add("issued before a suspension, agent reactivated", reactivated, old, false, "")
	add("issued after the reactivation", reactivated, reactivated.newToken(t), true, "agents:read")

	decommissioned := ownedClient(t, owner, "agents:read")
	expect(t, call(t, "DELETE", "/v1/agents/"+decommissioned.id, nil), http.StatusOK)
	add("agent decommissioned", decommissioned, decommissioned.token, false, "")

	narrowed := ownedClient(t, owner, "agents:read", "audit:read")
	expect(t, call(t, "PATCH", "/v1/agents/"+narrowed.id+"?updateMask=scopes", map[string]any{"scopes": []string{"agents:read"}}), http.StatusOK)
	add("a scope taken from the agent", narrowed, narrowed.token, true, "agents:read")

	moved := ownedClient(t, owner, "agents:read")
	expect(t, call(t, "PATCH", "/v1/agents/"+moved.id+"?updateMask=owner", map[string]any{"owner": owner + "-new"}), http.StatusOK)
	add("agent moved to another owner", moved, moved.token, false, "")

	// The introspecting caller presents a token (no client rate limit).
	introspector := ownedClient(t, owner, "tokens:introspect")
	introspect := func(tok string) map[string]any {
		r := send(t, "POST", "/oauth2/introspect", url.Values{"token": {tok}}.Encode(),
			"Content-Type", "application/x-www-form-urlencoded", "Authorization", "Bearer "+introspector.token)
		expect(t, r, http.StatusOK)
		return r.JSON(t)
	}
	for _, s := range states {
		t.Run(s.name, func(t *testing.T) {
			// Both see every change: the feeds carry them within a second.
			eventually(t, 5*time.Second, func() error {
				gw := callAs(t, s.token, "GET", "/v1/agents/"+s.agent.id, nil)
				accepted := gw.Status != http.StatusUnauthorized
				in := introspect(s.token)
				active, _ := in["active"].(bool)
				if accepted != s.active || active != s.active {
					return fmt.Errorf("gateway %d (accepted %v), introspection active %v; want %v: %s", gw.Status, accepted, active, s.active, gw.Body)
				}
				if active && in["scope"] != s.scope {
					return fmt.Errorf("introspection scope %q, want %q", in["scope"], s.scope)
				}
				if active && in["owner"] != owner {
					return fmt.Errorf("introspection owner %v, want %s", in["owner"], owner)
				}
				return nil
			})
		})
	}
}
