// Package idp is the Go client of AgentIdP, the identity provider for AI
// agents: agents, their credentials, OAuth 2.0 tokens and the audit log,
// over the REST API of the gateway.
//
// The client is thin: it speaks the documented REST API, gets and caches its
// own access token (client_credentials), retries what is safe to retry, and
// turns every error into an [*AgentIdPError]. It uses only the standard
// library, never panics, and is safe for concurrent use.
package idp
