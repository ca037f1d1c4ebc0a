# AgentIdP's authorization policy, evaluated by the authz service (embedded OPA)
# for every API call the gateway's ext_authz filter sends it. The authz service
# has already verified the bearer token and checked its revocation; this policy
# decides what a verified caller may do. docs/authz.md describes the input, the
# decision and the rules.
#
# The scope table is data (data/scopes.json, mounted at data.scopes); the rules
# below are the attribute rules no table can express. The static scope check
# lives here and nowhere else.
package agentidp.authz

# The decision enforced by the authz service: opa-envoy-plugin's "allowed" and
# "http_status", plus AgentIdP's error "reason" and "message", the "scope" a
# 403 names in WWW-Authenticate, and the rate-limit bucket of an allowed call.
default decision := {
	"allowed": false, "http_status": 403, "reason": "POLICY_DENIED",
	"message": "the policy denied the request",
}

# The fast path decides the common case, an active agent calling a route its
# token's scopes cover with no attribute rule to apply, in one rule body that
# reads the input directly: every rule OPA evaluates costs microseconds, and
# this runs for every API call. Anything else takes the full path
# (full_decision), which decides the same way and explains its denials;
# authz_test.rego checks that the fast path never changes a decision.
decision := d if {
	input.agent.status == "active" # input.agent comes with a verified token
	not contains(input.attributes.request.http.path, ";")
	not contains(input.attributes.request.http.path, "%3B") # input.parsed_path is decoded: an
	not contains(input.attributes.request.http.path, "%3b") # encoded ";" is one there too
	not input.attributes.request.http.headers["x-http-method-override"]
	not input.attributes.request.http.headers["x-http-method"]
	not input.attributes.request.http.headers["x-method-override"]
	r := agentidp.match_route(data.scopes.routes, input.attributes.request.http.method, input.parsed_path)
	not r.operation in fast_path_excluded
	[scope] := r.scopes # routes needing several scopes take the full path
	scope in input.token.scopes
	scope in input.agent.scopes
	# The agent the path names, if any, is of the caller's owner.
	object.get(input, ["target", "owner"], input.agent.owner) == input.agent.owner
	count(agentidp.rebound_params(r, input.parsed_path, input.parsed_query, object.get(input, "parsed_body", null))) == 0
	d := {"allowed": true, "rate_limit": object.get(r, "rate_limit", "default")}
} else := full_decision

# Operations with attribute rules the fast path does not apply (agent
# changes, and credential changes with their escalation rule).
fast_path_excluded := {"CreateAgent", "UpdateAgent", "DeleteAgent", "CreateCredential", "RotateCredential", "RevokeCredential"}

full_decision := d if {
	d := denial
} else := allow

# An allowed call is charged to its route's rate-limit bucket, named here
# and defined in rate_limits (the authz service reads that rule once per
# policy version, not per request).
allow := {"allowed": true, "rate_limit": object.get(route, "rate_limit", "default")}

rate_limits := object.get(data.scopes, "rate_limits", {})

# ── Request ─────────────────────────────────────────────────────────────────

http_request := input.attributes.request.http

method := upper(http_request.method)

segments := input.parsed_path

body := input.parsed_body

# The route of data.scopes.routes this request matches, its path variables
# (params.agentId) and its operation. agentidp.match_route and
# agentidp.path_params are the authz service's built-in route matcher
# (docs/authz.md): the first route whose method and path template match.
route := agentidp.match_route(data.scopes.routes, method, segments)

params := agentidp.path_params(route.path, segments)

operation := route.operation

# ── Caller and target ───────────────────────────────────────────────────────

# What the caller may do: the scopes of its token that its agent still holds
# (a scope removed from an agent stops working at once, not at token expiry).
effective_scopes := {s | some s in input.token.scopes; s in input.agent.scopes}

holds(scope) if {
	scope in input.token.scopes
	scope in input.agent.scopes
}

# Agent ids are canonical UUIDs, which the services parse case-insensitively.
targets_self if lower(params.agentId) == lower(input.token.sub)

# Operators: platform:admin reaches across owners and past the subset rule.
platform_admin if holds("platform:admin")

# input.target is the agent the path names (authz looks it up: owner,
# status, scopes), absent when the path names none or no agent that exists
# (the service then answers 404 itself).
another_owners_agent if {
	input.target.owner != input.agent.owner
	not platform_admin
}

# The target's scopes the caller does not hold: changing or taking over an
# agent more powerful than oneself is escalation.
target_lacks := {s | some s in input.target.scopes; not s in effective_scopes}

beyond_reach if {
	count(target_lacks) > 0
	not platform_admin
}

scopes_satisfied if {
	every s in route.scopes {
		holds(s)
	}
}

# A route may let an agent act on itself without the route's scope
# ("self": "agentId" lets an agent read its own record).
scopes_satisfied if {
	lower(params[route.self]) == lower(input.token.sub)
}

# ── Denials, most fundamental first ─────────────────────────────────────────

denial := malformed("method override headers are not accepted") if {
	method_override
} else := malformed("path parameters (;) are not accepted") if {
	some s in segments
	contains(s, ";")
} else := malformed(sprintf("the query string or body binds %s to another value than the path", [concat(", ", rebound)])) if {
	count(rebound) > 0
} else := malformed("the request body was too large to inspect") if {
	route.body
	input.truncated_body
} else := malformed("the request body must be a JSON value without duplicate keys") if {
	body_unparsed
} else := unauthenticated if {
	not input.token
} else := suspended if {
	input.agent.status != "active"
} else := not_found if {
	not route
} else := insufficient_scope if {
	not scopes_satisfied
} else := agent_not_found if {
	another_owners_agent
} else := d if {
	operation in agent_changes
	d := agent_change_denial
} else := policy_denied(sprintf("agent %s holds scopes the caller does not hold: %s", [input.target.id, concat(" ", sort(target_lacks))])) if {
	operation in credential_changes
	beyond_reach
}

# ── Path variables are the path's ──────────────────────────────────────────

# The transcoder binds path, then query, then body, the last binding of a
# field winning: the path variables (the ids the rules above decide on) that
# the query string or the body binds to another value. A body that repeats
# the path's own id (an SDK echoing a resource) is fine.
rebound := agentidp.rebound_params(route, segments, input.parsed_query, object.get(input, "parsed_body", null))

# A route whose body binds fields must show a body the rules can read: one
# that is cut short (above), or has duplicate keys (parsers disagree on which
# copy wins), could rebind a path variable unseen.
body_unparsed if {
	route.body
	trim_space(object.get(http_request, "body", "")) != ""
	not input.parsed_body
}

# Headers some frameworks take as the "real" method. Envoy and the gRPC
# services ignore them; refusing them keeps it so behind any upstream.
method_override if http_request.headers["x-http-method-override"]

method_override if http_request.headers["x-http-method"]

method_override if http_request.headers["x-method-override"]

# ── Attribute rules on agent changes ────────────────────────────────────

agent_changes := {"CreateAgent", "UpdateAgent", "DeleteAgent"}

credential_changes := {"CreateCredential", "RotateCredential", "RevokeCredential"}

agent_writes := {"CreateAgent", "UpdateAgent"}

agent_change_denial := malformed(sort(body_problems)[0]) if {
	count(body_problems) > 0
} else := malformed("agent fields belong in the request body, not the query string") if {
	agent_fields_in_query
} else := malformed("agentId in the body does not match the path") if {
	body_names_other_agent
} else := policy_denied("an agent cannot change its own status or scopes") if {
	self_sensitive_update
} else := policy_denied("an agent cannot decommission itself") if {
	operation == "DeleteAgent"
	targets_self
} else := policy_denied("registering an agent for another owner needs platform:admin") if {
	operation == "CreateAgent"
	names_other_owner
} else := policy_denied("moving an agent to another owner needs platform:admin") if {
	operation == "UpdateAgent"
	updates("owner")
	names_other_owner
} else := policy_denied(sprintf("agent %s holds scopes the caller does not hold: %s", [input.target.id, concat(" ", sort(target_lacks))])) if {
	operation in {"UpdateAgent", "DeleteAgent"}
	not targets_self
	beyond_reach
} else := policy_denied(sprintf("cannot grant scopes the caller does not hold: %s", [concat(" ", sort(escalated_scopes))])) if {
	count(escalated_scopes) > 0
}

# The body names an owner other than the one the agent has (an update) or
# the caller's (a registration; an empty owner means the caller's).
names_other_owner if {
	not platform_admin
	some k, v in body
	normalise(k) == "owner"
	v != ""
	v != object.get(input, ["target", "owner"], input.agent.owner)
}

# Writes whose body the rules read must show it: complete, a JSON object, with
# a list for scopes.
body_problems contains "the request body was too large to inspect" if {
	operation in agent_writes
	input.truncated_body
}

body_problems contains "a JSON object body is required" if {
	operation in agent_writes
	not input.truncated_body
	not body_is_object
}

# A separate rule: `not is_object(body)` would fail, not succeed, when the
# request has no parsed body at all.
body_is_object if is_object(body)

body_problems contains "scopes must be a list" if {
	operation in agent_writes
	some k, v in body
	normalise(k) == "scopes"
	v != null
	not is_array(v)
}

# The transcoder binds query parameters to request fields the body does not
# cover; agent fields must not arrive that way, where the rules do not look.
agent_fields_in_query if {
	operation in agent_writes
	some key, _ in input.parsed_query
	startswith(normalise(key), "agent")
}

# The transcoder takes the agent to update from the path; a different id in
# the body is refused rather than guessing which one wins.
body_names_other_agent if {
	operation == "UpdateAgent"
	some k, v in body
	normalise(k) == "agentid"
	lower(v) != lower(params.agentId)
}

# Field-mask paths of an update (the updateMask query parameter in any of
# the spellings the transcoder accepts), normalised.
mask_paths contains trim_prefix(normalise(p), "agent.") if {
	some key, values in input.parsed_query
	startswith(normalise(key), "updatemask")
	some v in values
	some p in split(v, ",")
	trim_space(p) != ""
}

# The fields an update changes: those the mask names or, with no mask, every
# field present in the body (the registry updates the fields set in it).
updates(field) if field in mask_paths

updates(_) if "*" in mask_paths

updates(field) if {
	count(mask_paths) == 0
	some k, _ in body
	normalise(k) == field
}

self_sensitive_update if {
	operation == "UpdateAgent"
	targets_self
	some field in {"status", "scopes"}
	updates(field)
}

# Scopes a write would give an agent; the caller must hold every one.
granted_scopes contains s if {
	operation == "CreateAgent"
	some k, v in body
	normalise(k) == "scopes"
	some s in v
}

granted_scopes contains s if {
	operation == "UpdateAgent"
	updates("scopes")
	some k, v in body
	normalise(k) == "scopes"
	some s in v
}

escalated_scopes := {s | some s in granted_scopes; not s in effective_scopes; not platform_admin}

normalise(s) := lower(replace(trim_space(s), "_", ""))

# ── Responses ───────────────────────────────────────────────────────────────

malformed(msg) := {"allowed": false, "http_status": 400, "reason": "MALFORMED_REQUEST", "message": msg}

unauthenticated := {
	"allowed": false, "http_status": 401, "reason": "UNAUTHENTICATED",
	"message": "this request needs an access token (Authorization: Bearer <token>)",
}

suspended := {
	"allowed": false, "http_status": 401, "reason": "AGENT_SUSPENDED",
	"message": sprintf("agent %s is %s", [input.token.sub, input.agent.status]),
}

not_found := {
	"allowed": false, "http_status": 404, "reason": "ROUTE_NOT_FOUND",
	"message": sprintf("no route matches %s /%s", [method, concat("/", segments)]),
}

insufficient_scope := {
	"allowed": false, "http_status": 403, "reason": "INSUFFICIENT_SCOPE",
	"message": sprintf("this request needs the scope %s", [concat(" ", sort(route.scopes))]),
	"scope": concat(" ", sort(route.scopes)),
}

policy_denied(msg) := {"allowed": false, "http_status": 403, "reason": "POLICY_DENIED", "message": msg}

# Another owner's agent does not exist for the caller: the answer the
# service gives for an agent that does not exist at all.
agent_not_found := {
	"allowed": false, "http_status": 404, "reason": "AGENT_NOT_FOUND",
	"message": sprintf("agent %s not found", [input.target.id]),
}
