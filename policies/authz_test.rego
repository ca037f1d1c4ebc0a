# Tests of authz.rego, run by the authz service before it accepts a policy
# (a failing test keeps the previous policy serving) and by `make test`
# (services/authz/internal/policy). One or more tests per rule.
#
# The rules are tested against the real scope table for the routes that
# ARCHITECTURE.md documents. GET /v1/audit/verify is deliberately left out:
# the end-to-end hot-reload test edits its scope in a copy of this directory.
package agentidp.authz_test

import data.agentidp.authz

me := "0190f8a0-0000-7000-8000-00000000000a"

other := "0190f8a0-0000-7000-8000-00000000000b"

everything := ["agents:read", "agents:write", "credentials:write", "audit:read", "tokens:introspect"]

# req builds the input the authz service sends for a verified caller.
req(method, path, query, body, sub, scopes) := {
	"attributes": {"request": {"http": {
		"method": method, "path": path,
		"headers": {"content-type": "application/json", "x-request-id": "r-1"},
	}}},
	"parsed_path": split(trim_prefix(path, "/"), "/"),
	"parsed_query": query,
	"parsed_body": body,
	"token": {"sub": sub, "client_id": sub, "scopes": scopes, "scope": concat(" ", scopes)},
	"agent": {"id": sub, "status": "active", "scopes": scopes},
}

get(path, scopes) := req("GET", path, {}, null, me, scopes)

decide(inp) := d if {
	d := authz.decision with input as inp
}

allowed(inp) if decide(inp).allowed == true

denied(inp, status, reason) if {
	d := decide(inp)
	d.allowed == false
	d.http_status == status
	d.reason == reason
}

# ── The scope table (ARCHITECTURE.md, "Public REST API") ────────────────────

documented := [
	["POST", "/v1/agents", "agents:write"],
	["GET", "/v1/agents", "agents:read"],
	["GET", "/v1/agents/0190f8a0-0000-7000-8000-0000000000ff", "agents:read"],
	["PATCH", "/v1/agents/0190f8a0-0000-7000-8000-0000000000ff", "agents:write"],
	["DELETE", "/v1/agents/0190f8a0-0000-7000-8000-0000000000ff", "agents:write"],
	["POST", "/v1/agents/0190f8a0-0000-7000-8000-0000000000ff/credentials", "credentials:write"],
	["GET", "/v1/agents/0190f8a0-0000-7000-8000-0000000000ff/credentials", "agents:read"],
	["POST", "/v1/agents/0190f8a0-0000-7000-8000-0000000000ff/credentials/c-1:rotate", "credentials:write"],
	["DELETE", "/v1/agents/0190f8a0-0000-7000-8000-0000000000ff/credentials/c-1", "credentials:write"],
	["GET", "/v1/audit/events", "audit:read"],
	["GET", "/v1/audit/events/e-1", "audit:read"],
]

body_for(method) := {"name": "bot", "scopes": []} if method in {"POST", "PATCH"}

else := null

test_every_documented_route_needs_its_scope if {
	every row in documented {
		[m, path, scope] := row
		inp := req(m, path, {"updateMask": ["name"]}, body_for(m), me, [s | some s in everything; s != scope])
		d := decide(inp)
		d.http_status == 403
		d.reason == "INSUFFICIENT_SCOPE"
		d.scope == scope
	}
}

test_every_documented_route_is_allowed_with_its_scope if {
	every row in documented {
		[m, path, scope] := row
		allowed(req(m, path, {"updateMask": ["name"]}, body_for(m), me, [scope]))
	}
}

# agentidp.match_route takes the first match; the table must not rely on
# order, so every documented request matches exactly one route.
test_each_documented_request_matches_one_route if {
	every row in documented {
		[m, path, _] := row
		segs := split(trim_prefix(path, "/"), "/")
		count([i | some i, r in data.scopes.routes; agentidp.match_route([r], m, segs)]) == 1
	}
}

test_routes_are_unique_by_method_and_path if {
	keys := [sprintf("%s %s", [r.method, r.path]) | some r in data.scopes.routes]
	count(keys) == count({k | some k in keys})
}

test_every_route_names_known_scopes if {
	known := {s | some s in everything}
	every r in data.scopes.routes {
		count(r.scopes) > 0
		every s in r.scopes {
			s in known
		}
	}
}

test_every_rate_limit_bucket_exists if {
	every r in data.scopes.routes {
		data.scopes.rate_limits[object.get(r, "rate_limit", "default")]
	}
}

# ── Authentication and the agent's status ───────────────────────────────────

test_anonymous_is_401 if {
	denied(object.remove(get("/v1/agents", everything), ["token", "agent"]), 401, "UNAUTHENTICATED")
}

test_anonymous_on_an_unknown_route_is_401_not_404 if {
	denied(object.remove(get("/nope", everything), ["token", "agent"]), 401, "UNAUTHENTICATED")
}

test_suspended_agent_is_denied_everything if {
	every row in documented {
		[m, path, _] := row
		inp := json.patch(req(m, path, {}, body_for(m), me, everything), [{"op": "replace", "path": "/agent/status", "value": "suspended"}])
		denied(inp, 401, "AGENT_SUSPENDED")
	}
}

test_suspended_agent_cannot_read_itself if {
	inp := json.patch(get(sprintf("/v1/agents/%s", [me]), []), [{"op": "replace", "path": "/agent/status", "value": "suspended"}])
	denied(inp, 401, "AGENT_SUSPENDED")
}

test_decommissioned_agent_is_denied if {
	inp := json.patch(get("/v1/agents", everything), [{"op": "replace", "path": "/agent/status", "value": "decommissioned"}])
	denied(inp, 401, "AGENT_SUSPENDED")
}

# ── Routing ──────────────────────────────────────────────────────────────────

test_unknown_route_is_404 if {
	denied(get("/v1/nothing-here", everything), 404, "ROUTE_NOT_FOUND")
}

test_unmapped_method_is_404 if {
	denied(req("PUT", sprintf("/v1/agents/%s", [other]), {}, {}, me, everything), 404, "ROUTE_NOT_FOUND")
}

test_case_matters if {
	denied(get("/V1/AGENTS", everything), 404, "ROUTE_NOT_FOUND")
}

test_trailing_slash_is_not_a_route if {
	denied(get("/v1/agents/", everything), 404, "ROUTE_NOT_FOUND")
}

test_custom_method_needs_an_id if {
	denied(req("POST", sprintf("/v1/agents/%s/credentials/:rotate", [other]), {}, {}, me, everything), 404, "ROUTE_NOT_FOUND")
}

test_custom_method_is_not_a_plain_id if {
	# DELETE .../c-1:rotate is not RevokeCredential of "c-1:rotate".
	denied(req("DELETE", sprintf("/v1/agents/%s/credentials/c-1:rotate", [other]), {}, null, me, everything), 404, "ROUTE_NOT_FOUND")
}

test_rotate_is_a_custom_method if {
	d := decide(req("POST", sprintf("/v1/agents/%s/credentials/c-1:rotate", [other]), {}, {}, me, ["credentials:write"]))
	d.allowed
	authz.operation == "RotateCredential" with input as req("POST", sprintf("/v1/agents/%s/credentials/c-1:rotate", [other]), {}, {}, me, [])
}

test_method_override_headers_are_refused if {
	every h in ["x-http-method-override", "x-http-method", "x-method-override"] {
		inp := json.patch(get("/v1/agents", everything), [{"op": "add", "path": sprintf("/attributes/request/http/headers/%s", [h]), "value": "DELETE"}])
		denied(inp, 400, "MALFORMED_REQUEST")
	}
}

test_path_parameters_are_refused if {
	denied(get("/v1/agents;x=1", everything), 400, "MALFORMED_REQUEST")
	denied(get(sprintf("/v1/agents/%s;a=b", [other]), everything), 400, "MALFORMED_REQUEST")
}

# ── Scopes ───────────────────────────────────────────────────────────────────

test_missing_scope_is_403_naming_it if {
	d := decide(get("/v1/audit/events", ["agents:read"]))
	d.http_status == 403
	d.reason == "INSUFFICIENT_SCOPE"
	d.scope == "audit:read"
}

test_a_scope_the_agent_lost_stops_working if {
	inp := json.patch(get("/v1/audit/events", ["audit:read"]), [{"op": "replace", "path": "/agent/scopes", "value": ["agents:read"]}])
	denied(inp, 403, "INSUFFICIENT_SCOPE")
}

test_a_scope_the_token_lacks_is_missing_even_if_the_agent_has_it if {
	inp := json.patch(get("/v1/audit/events", ["agents:read"]), [{"op": "replace", "path": "/agent/scopes", "value": everything}])
	denied(inp, 403, "INSUFFICIENT_SCOPE")
}

test_agent_reads_itself_without_agents_read if {
	allowed(get(sprintf("/v1/agents/%s", [me]), []))
}

test_agent_reads_itself_in_upper_case if {
	allowed(get(sprintf("/v1/agents/%s", [upper(me)]), []))
}

test_agent_cannot_read_another_without_agents_read if {
	denied(get(sprintf("/v1/agents/%s", [other]), []), 403, "INSUFFICIENT_SCOPE")
}

test_self_read_does_not_extend_to_credentials if {
	denied(get(sprintf("/v1/agents/%s/credentials", [me]), []), 403, "INSUFFICIENT_SCOPE")
}

# ── No agent changes its own status or scopes ────────────────────────────────

patch_self(query, body) := req("PATCH", sprintf("/v1/agents/%s", [me]), query, body, me, everything)

test_self_status_change_is_denied if {
	denied(patch_self({"updateMask": ["status"]}, {"status": "suspended"}), 403, "POLICY_DENIED")
}

test_self_scopes_change_is_denied if {
	denied(patch_self({"updateMask": ["scopes"]}, {"scopes": ["agents:read"]}), 403, "POLICY_DENIED")
}

test_self_change_with_every_mask_spelling_is_denied if {
	every q in [
		{"updateMask": ["name,status"]},
		{"updateMask": [" Status "]},
		{"update_mask": ["scopes"]},
		{"updateMask.paths": ["status"]},
		{"update_mask.paths": ["scopes"]},
		{"updateMask": ["name"], "update_mask": ["status"]},
		{"updateMask": ["*"]},
	] {
		denied(patch_self(q, {"name": "x"}), 403, "POLICY_DENIED")
	}
}

test_self_change_with_an_empty_mask_and_status_in_the_body_is_denied if {
	denied(patch_self({}, {"name": "x", "status": "active"}), 403, "POLICY_DENIED")
	denied(patch_self({}, {"scopes": []}), 403, "POLICY_DENIED")
}

test_self_change_of_other_fields_is_allowed if {
	allowed(patch_self({"updateMask": ["description,version"]}, {"description": "d", "status": "suspended"}))
	allowed(patch_self({}, {"description": "d"}))
}

test_self_change_in_upper_case_is_still_self if {
	inp := req("PATCH", sprintf("/v1/agents/%s", [upper(me)]), {"updateMask": ["status"]}, {"status": "suspended"}, me, everything)
	denied(inp, 403, "POLICY_DENIED")
}

test_changing_another_agents_status_is_allowed if {
	allowed(req("PATCH", sprintf("/v1/agents/%s", [other]), {"updateMask": ["status"]}, {"status": "suspended"}, me, everything))
}

test_body_naming_another_agent_is_refused if {
	inp := req("PATCH", sprintf("/v1/agents/%s", [other]), {"updateMask": ["status"]}, {"agentId": me, "status": "suspended"}, me, everything)
	denied(inp, 400, "MALFORMED_REQUEST")
	inp2 := req("PATCH", sprintf("/v1/agents/%s", [other]), {"updateMask": ["status"]}, {"agent_id": me, "status": "suspended"}, me, everything)
	denied(inp2, 400, "MALFORMED_REQUEST")
}

test_body_repeating_the_path_id_is_fine if {
	allowed(req("PATCH", sprintf("/v1/agents/%s", [other]), {"updateMask": ["name"]}, {"agentId": upper(other), "name": "x"}, me, everything))
}

test_agent_cannot_decommission_itself if {
	denied(req("DELETE", sprintf("/v1/agents/%s", [me]), {}, null, me, everything), 403, "POLICY_DENIED")
}

test_agent_can_decommission_another if {
	allowed(req("DELETE", sprintf("/v1/agents/%s", [other]), {}, null, me, ["agents:write"]))
}

# ── No agent grants scopes it does not hold ─────────────────────────────────

test_register_with_held_scopes_is_allowed if {
	allowed(req("POST", "/v1/agents", {}, {"name": "b", "scopes": ["agents:read"]}, me, ["agents:write", "agents:read"]))
	allowed(req("POST", "/v1/agents", {}, {"name": "b"}, me, ["agents:write"]))
}

test_register_with_scopes_beyond_the_callers_is_denied if {
	inp := req("POST", "/v1/agents", {}, {"name": "b", "scopes": ["agents:read", "audit:read"]}, me, ["agents:write", "agents:read"])
	d := decide(inp)
	d.http_status == 403
	d.reason == "POLICY_DENIED"
	contains(d.message, "audit:read")
}

test_register_counts_effective_scopes_only if {
	# The token carries audit:read, but the agent no longer holds it.
	inp := json.patch(req("POST", "/v1/agents", {}, {"name": "b", "scopes": ["audit:read"]}, me, ["agents:write", "audit:read"]),
		[{"op": "replace", "path": "/agent/scopes", "value": ["agents:write"]}])
	denied(inp, 403, "POLICY_DENIED")
}

test_register_scopes_under_another_spelling_are_checked if {
	denied(req("POST", "/v1/agents", {}, {"name": "b", "Scopes": ["audit:read"]}, me, ["agents:write"]), 403, "POLICY_DENIED")
}

test_register_with_scopes_not_a_list_is_refused if {
	denied(req("POST", "/v1/agents", {}, {"name": "b", "scopes": "audit:read"}, me, ["agents:write"]), 400, "MALFORMED_REQUEST")
}

test_register_without_a_readable_body_is_refused if {
	denied(req("POST", "/v1/agents", {}, null, me, ["agents:write"]), 400, "MALFORMED_REQUEST")
	denied(req("POST", "/v1/agents", {}, [1, 2], me, ["agents:write"]), 400, "MALFORMED_REQUEST")
	# No parsed body at all (not JSON, or a duplicate key).
	denied(object.remove(req("POST", "/v1/agents", {}, {}, me, ["agents:write"]), ["parsed_body"]), 400, "MALFORMED_REQUEST")
	denied(object.remove(req("PATCH", sprintf("/v1/agents/%s", [other]), {"updateMask": ["name"]}, {}, me, everything), ["parsed_body"]), 400, "MALFORMED_REQUEST")
	truncated := object.union(req("POST", "/v1/agents", {}, null, me, ["agents:write"]), {"truncated_body": true})
	d := decide(truncated)
	d.http_status == 400
	contains(d.message, "too large")
}

test_agent_fields_in_the_query_are_refused if {
	denied(req("POST", "/v1/agents", {"agent.scopes": ["audit:read"]}, {"name": "b"}, me, ["agents:write"]), 400, "MALFORMED_REQUEST")
	denied(req("PATCH", sprintf("/v1/agents/%s", [other]), {"updateMask": ["scopes"], "agent.scopes": ["audit:read"]}, {}, me, everything), 400, "MALFORMED_REQUEST")
}

test_update_granting_scopes_beyond_the_callers_is_denied if {
	inp := req("PATCH", sprintf("/v1/agents/%s", [other]), {"updateMask": ["scopes"]}, {"scopes": ["audit:read"]}, me, ["agents:write"])
	denied(inp, 403, "POLICY_DENIED")
	inp2 := req("PATCH", sprintf("/v1/agents/%s", [other]), {}, {"scopes": ["audit:read"]}, me, ["agents:write"])
	denied(inp2, 403, "POLICY_DENIED")
}

test_update_of_other_fields_ignores_body_scopes if {
	# With a mask that does not name scopes, the registry ignores them.
	allowed(req("PATCH", sprintf("/v1/agents/%s", [other]), {"updateMask": ["name"]}, {"name": "n", "scopes": ["audit:read"]}, me, ["agents:write"]))
}

# ── Rate-limit buckets ───────────────────────────────────────────────────────

test_reads_use_the_default_bucket if {
	d := decide(get("/v1/agents", ["agents:read"]))
	d.rate_limit == "default"
	authz.rate_limits["default"].per_second == data.scopes.rate_limits["default"].per_second
}

test_writes_use_their_bucket if {
	d := decide(req("POST", "/v1/agents", {}, {"name": "b"}, me, ["agents:write"]))
	d.rate_limit == "write"
}

test_no_rate_limits_defined_means_none if {
	count(authz.rate_limits) == 0 with data.scopes as {"routes": data.scopes.routes}
}

# ── The fast path ────────────────────────────────────────────────────────────

fast_path_samples := array.concat(
	[req(m, path, {"updateMask": ["name"]}, body_for(m), me, everything) | some [m, path, _] in documented],
	[
		get(sprintf("/v1/agents/%s", [me]), []),
		get(sprintf("/v1/agents/%s", [upper(me)]), ["agents:read"]),
		get("/v1/audit/events", ["agents:read"]),
		get("/v1/agents;x=1", everything),
		get("/v1/nothing-here", everything),
		get("/v1/agents?search=a;b", everything),
		# An encoded ";" is decoded in parsed_path (what the full path reads).
		json.patch(get(sprintf("/v1/agents/%s%%3Bx=1", [me]), everything), [{"op": "replace", "path": "/parsed_path", "value": ["v1", "agents", sprintf("%s;x=1", [me])]}]),
		json.patch(get("/v1/agents", everything), [{"op": "replace", "path": "/agent/status", "value": "suspended"}]),
		json.patch(get("/v1/agents", everything), [{"op": "add", "path": "/attributes/request/http/headers/x-http-method", "value": "DELETE"}]),
		json.patch(get("/v1/audit/events", ["audit:read"]), [{"op": "replace", "path": "/agent/scopes", "value": []}]),
		object.remove(get("/v1/agents", everything), ["token", "agent"]),
	],
)

test_the_fast_path_never_changes_a_decision if {
	every inp in fast_path_samples {
		fast := authz.decision with input as inp
		full := authz.full_decision with input as inp
		fast == full
	}
}

test_the_fast_path_applies_without_the_full_path if {
	# With the full path broken, the common case is still decided.
	d := authz.decision with input as get("/v1/agents", ["agents:read"]) with authz.full_decision as {"allowed": false}
	d.allowed
	d.rate_limit == "default"
}
