package command

// routeCommands maps every API operation (its method and path template, as
// in policies/data/scopes.json, the gateway's route table, and the OpenAPI
// document libs/gen/openapi/agentidp.swagger.yaml; /oauth2 from the token
// service) to a command line that calls it. TestEveryRouteHasACommand runs
// each against a recording server, and fails for a route of scopes.json or
// the OpenAPI document missing here: a new API operation needs a command.
// ("{id}" in an example stands for any identifier.)
var routeCommands = map[string][]string{
	"POST /v1/agents":                                             {"agents", "register", "--name", "n"},
	"GET /v1/agents":                                              {"agents", "list"},
	"GET /v1/agents/{agentId}":                                    {"agents", "get", "{id}"},
	"PATCH /v1/agents/{agentId}":                                  {"agents", "update", "{id}", "--version", "2"}, // and suspend, reactivate
	"DELETE /v1/agents/{agentId}":                                 {"agents", "decommission", "{id}"},
	"POST /v1/agents/{agentId}/credentials":                       {"credentials", "generate", "{id}"},
	"GET /v1/agents/{agentId}/credentials":                        {"credentials", "list", "{id}"},
	"POST /v1/agents/{agentId}/credentials/{credentialId}:rotate": {"credentials", "rotate", "{id}", "{id}"},
	"DELETE /v1/agents/{agentId}/credentials/{credentialId}":      {"credentials", "revoke", "{id}", "{id}"},
	"GET /v1/audit/events":                                        {"audit", "query"},
	"GET /v1/audit/events/{eventId}":                              {"audit", "get", "{id}"},
	"GET /v1/audit/checkpoints":                                   {"audit", "checkpoints"},
	"GET /v1/audit/verify":                                        {"audit", "verify"},
	"POST /oauth2/token":                                          {"token", "get"},
	"POST /oauth2/introspect":                                     {"token", "introspect", "a.b.c"},
	"POST /oauth2/revoke":                                         {"token", "revoke", "a.b.c"},
}
