# Tests of authz.rego, run by the authz service before it accepts a policy
# (a failing test keeps the previous policy serving) and by `make test`
# (services/authz/internal/policy). One or more tests per rule.
#
# The rules are tested against the real scope table for the routes that
# the route table documents. GET /v1/audit/verify is deliberately left out:
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
	"agent": {"id": sub, "status": "active", "scopes": scopes, "owner": "team-a"},
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

# ── The scope table (data/scopes.json, the public REST API) ────────────────────

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
	known := {s | some s in everything} | {"platform:admin"}
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
		# Owners, targets and path variables.
		on(get(sprintf("/v1/agents/%s", [other]), ["agents:read"]), target(other, "team-a", [])),
		on(get(sprintf("/v1/agents/%s", [other]), ["agents:read"]), target(other, "team-b", [])),
		on(get(sprintf("/v1/agents/%s", [other]), ["agents:read", "platform:admin"]), target(other, "team-b", [])),
		on(get(sprintf("/v1/agents/%s/credentials", [other]), ["agents:read"]), target(other, "team-b", [])),
		req("GET", sprintf("/v1/agents/%s", [me]), {"agentId": [other]}, null, me, ["agents:read"]),
		req("GET", sprintf("/v1/agents/%s", [me]), {"agent_id": [me]}, null, me, ["agents:read"]),
		req("GET", sprintf("/v1/agents/%s/credentials", [me]), {"AGENT_ID": [other]}, null, me, ["agents:read"]),
	],
)

# on gives a request its target: the agent its path names.
on(inp, t) := object.union(inp, {"target": t})

target(id, owner, scopes) := {"id": id, "owner": owner, "status": "active", "scopes": scopes}

# ── Owners are tenants ─────────────────────────────────────────────────────

test_another_owners_agent_does_not_exist if {
	theirs := target(other, "team-b", ["agents:read"])
	every inp in [
		on(get(sprintf("/v1/agents/%s", [other]), everything), theirs),
		on(get(sprintf("/v1/agents/%s/credentials", [other]), everything), theirs),
		on(req("PATCH", sprintf("/v1/agents/%s", [other]), {"updateMask": ["status"]}, {"status": "suspended"}, me, everything), theirs),
		on(req("DELETE", sprintf("/v1/agents/%s", [other]), {}, null, me, everything), theirs),
		on(req("POST", sprintf("/v1/agents/%s/credentials", [other]), {}, {}, me, everything), theirs),
		on(req("POST", sprintf("/v1/agents/%s/credentials/c-1:rotate", [other]), {}, {}, me, everything), theirs),
		on(req("DELETE", sprintf("/v1/agents/%s/credentials/c-1", [other]), {}, null, me, everything), theirs),
	] {
		d := decide(inp)
		d.http_status == 404
		d.reason == "AGENT_NOT_FOUND"
		d.message == sprintf("agent %s not found", [other])
	}
}

test_same_owner_and_platform_reach_the_agent if {
	allowed(on(get(sprintf("/v1/agents/%s", [other]), ["agents:read"]), target(other, "team-a", [])))
	allowed(on(get(sprintf("/v1/agents/%s", [other]), ["agents:read", "platform:admin"]), target(other, "team-b", [])))
	allowed(on(req("DELETE", sprintf("/v1/agents/%s", [other]), {}, null, me, ["agents:write", "platform:admin"]), target(other, "team-b", ["audit:read"])))
}

test_registering_for_another_owner_needs_platform if {
	denied(req("POST", "/v1/agents", {}, {"name": "b", "owner": "team-b"}, me, ["agents:write"]), 403, "POLICY_DENIED")
	allowed(req("POST", "/v1/agents", {}, {"name": "b", "owner": "team-a"}, me, ["agents:write"]))
	allowed(req("POST", "/v1/agents", {}, {"name": "b"}, me, ["agents:write"]))
	allowed(req("POST", "/v1/agents", {}, {"name": "b", "owner": "team-b"}, me, ["agents:write", "platform:admin"]))
}

test_moving_an_agent_to_another_owner_needs_platform if {
	mine := target(other, "team-a", [])
	denied(on(req("PATCH", sprintf("/v1/agents/%s", [other]), {"updateMask": ["owner"]}, {"owner": "team-b"}, me, ["agents:write"]), mine), 403, "POLICY_DENIED")
	denied(on(req("PATCH", sprintf("/v1/agents/%s", [other]), {}, {"owner": "team-b"}, me, ["agents:write"]), mine), 403, "POLICY_DENIED")
	allowed(on(req("PATCH", sprintf("/v1/agents/%s", [other]), {"updateMask": ["owner"]}, {"owner": "team-a"}, me, ["agents:write"]), mine))
	allowed(on(req("PATCH", sprintf("/v1/agents/%s", [other]), {"updateMask": ["owner"]}, {"owner": "team-b"}, me, ["agents:write", "platform:admin"]), mine))
	# A mask that does not name owner leaves it alone.
	allowed(on(req("PATCH", sprintf("/v1/agents/%s", [other]), {"updateMask": ["name"]}, {"name": "n", "owner": "team-b"}, me, ["agents:write"]), mine))
}

# ── No escalation, ever ─────────────────────────────────────────────────────

test_no_credential_for_an_agent_more_powerful_than_the_caller if {
	admin := target(other, "team-a", ["agents:read", "agents:write", "credentials:write", "platform:admin"])
	every inp in [
		on(req("POST", sprintf("/v1/agents/%s/credentials", [other]), {}, {}, me, ["credentials:write"]), admin),
		on(req("POST", sprintf("/v1/agents/%s/credentials/c-1:rotate", [other]), {}, {}, me, ["credentials:write"]), admin),
		on(req("DELETE", sprintf("/v1/agents/%s/credentials/c-1", [other]), {}, null, me, ["credentials:write"]), admin),
	] {
		d := decide(inp)
		d.http_status == 403
		d.reason == "POLICY_DENIED"
		contains(d.message, "platform:admin")
	}
	# The scopes the caller holds through its token and its agent count.
	peer := target(other, "team-a", ["agents:read"])
	allowed(on(req("POST", sprintf("/v1/agents/%s/credentials", [other]), {}, {}, me, ["credentials:write", "agents:read"]), peer))
	denied(on(req("POST", sprintf("/v1/agents/%s/credentials", [other]), {}, {}, me, ["credentials:write"]), peer), 403, "POLICY_DENIED")
	allowed(on(req("POST", sprintf("/v1/agents/%s/credentials", [other]), {}, {}, me, ["credentials:write", "platform:admin"]), admin))
}

test_an_agent_rotates_its_own_credential_with_a_full_token if {
	self := target(me, "team-a", ["agents:read", "audit:read"])
	rotate := sprintf("/v1/agents/%s/credentials/c-1:rotate", [me])
	# Without credentials:write: its token carries every scope of its agent.
	allowed(on(req("POST", rotate, {}, {}, me, ["agents:read", "audit:read"]), self))
	# A token narrowed below the agent cannot mint a secret that yields it all.
	narrowed := json.patch(on(req("POST", rotate, {}, {}, me, ["agents:read"]), self), [{"op": "replace", "path": "/agent/scopes", "value": ["agents:read", "audit:read"]}])
	denied(narrowed, 403, "POLICY_DENIED")
}

test_no_change_to_an_agent_more_powerful_than_the_caller if {
	admin := target(other, "team-a", ["agents:read", "agents:write", "audit:read"])
	denied(on(req("PATCH", sprintf("/v1/agents/%s", [other]), {"updateMask": ["status"]}, {"status": "suspended"}, me, ["agents:write", "agents:read"]), admin), 403, "POLICY_DENIED")
	denied(on(req("PATCH", sprintf("/v1/agents/%s", [other]), {"updateMask": ["scopes"]}, {"scopes": []}, me, ["agents:write", "agents:read"]), admin), 403, "POLICY_DENIED")
	denied(on(req("DELETE", sprintf("/v1/agents/%s", [other]), {}, null, me, ["agents:write", "agents:read"]), admin), 403, "POLICY_DENIED")
	allowed(on(req("PATCH", sprintf("/v1/agents/%s", [other]), {"updateMask": ["status"]}, {"status": "suspended"}, me, ["agents:write", "agents:read", "audit:read"]), admin))
	# Its own description, with a narrowed token: not an escalation.
	allowed(on(req("PATCH", sprintf("/v1/agents/%s", [me]), {"updateMask": ["description"]}, {"description": "d"}, me, ["agents:write"]), target(me, "team-a", ["agents:write", "audit:read"])))
}

# ── Path variables are the path's ──────────────────────────────────────────

test_a_query_or_body_binding_a_path_variable_elsewhere_is_refused if {
	every inp in [
		req("GET", sprintf("/v1/agents/%s", [me]), {"agentId": [other]}, null, me, everything),
		req("GET", sprintf("/v1/agents/%s", [me]), {"agent_id": [other]}, null, me, everything),
		req("GET", sprintf("/v1/agents/%s", [me]), {"agentId": [me, other]}, null, me, everything),
		req("GET", sprintf("/v1/agents/%s/credentials", [me]), {"agentId": [other]}, null, me, everything),
		req("DELETE", sprintf("/v1/agents/%s/credentials/c-1", [me]), {"credentialId": ["c-2"]}, null, me, everything),
		req("POST", sprintf("/v1/agents/%s/credentials", [me]), {}, {"agentId": other}, me, everything),
		req("POST", sprintf("/v1/agents/%s/credentials", [me]), {}, {"agent_id": other}, me, everything),
		req("POST", sprintf("/v1/agents/%s/credentials/c-1:rotate", [me]), {}, {"credentialId": "c-2"}, me, everything),
		req("POST", sprintf("/v1/agents/%s/credentials", [me]), {}, {"agentId": null}, me, everything),
		req("PATCH", sprintf("/v1/agents/%s", [me]), {"updateMask": ["name"], "agent.agentId": [other]}, {"name": "n"}, me, everything),
		req("PATCH", sprintf("/v1/agents/%s", [me]), {"updateMask": ["name"]}, {"name": "n", "agent_id": other}, me, everything),
		req("GET", sprintf("/v1/audit/events/%s", [me]), {"eventId": [other]}, null, me, everything),
	] {
		d := decide(inp)
		d.http_status == 400
		d.reason == "MALFORMED_REQUEST"
		contains(d.message, "to another value than the path")
	}
}

test_a_body_repeating_the_paths_own_id_is_fine if {
	allowed(req("GET", sprintf("/v1/agents/%s", [me]), {"agentId": [upper(me)]}, null, me, everything))
	allowed(req("POST", sprintf("/v1/agents/%s/credentials", [me]), {}, {"agentId": me, "ttlSeconds": 60}, me, everything))
	allowed(req("PATCH", sprintf("/v1/agents/%s", [me]), {"updateMask": ["name"]}, {"name": "n", "agentId": me}, me, everything))
}

test_a_body_route_needs_a_readable_body if {
	dup := json.patch(req("POST", sprintf("/v1/agents/%s/credentials", [me]), {}, {}, me, everything), [
		{"op": "remove", "path": "/parsed_body"},
		{"op": "add", "path": "/attributes/request/http/body", "value": "{\"agentId\":\"x\",\"agentId\":\"y\"}"},
	])
	denied(dup, 400, "MALFORMED_REQUEST")
	cut := object.union(req("POST", sprintf("/v1/agents/%s/credentials", [me]), {}, {}, me, everything), {"truncated_body": true})
	denied(cut, 400, "MALFORMED_REQUEST")
}

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

test_a_target_whose_state_is_unknown_is_the_services_to_judge if {
	# authz could not establish it (the registry unreachable): the services
	# apply the owner and subset rules in their own queries.
	unknown := {"id": other, "unavailable": true}
	allowed(on(get(sprintf("/v1/agents/%s", [other]), ["agents:read"]), unknown))
	allowed(on(req("POST", sprintf("/v1/agents/%s/credentials", [other]), {}, {}, me, ["credentials:write"]), unknown))
}
