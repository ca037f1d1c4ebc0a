/**
 * The TypeScript client of AgentIdP, the identity provider for AI agents:
 * agents, credentials, OAuth 2.0 tokens and the audit log over the
 * gateway's REST API. Built on fetch: browsers and Node 20+.
 */
export { AgentIdPClient, Agents, Audit, Credentials, Tokens, type ClientOptions } from "./client.js";
export { AgentIdPError } from "./errors.js";
export type {
  Agent, AgentChanges, AgentFilter, AgentInput, AgentStatus, AuditCheckpoint, AuditEvent, AuditFilter, ChainBreak,
  ChainVerification, Credential, Introspection, IssuedCredential, Page, TokenResponse,
} from "./models.js";
export { Secret } from "./secret.js";
export {
  REFRESH_BEFORE_MS, TokenManager, memoryTokenStore, sessionStorageTokenStore, type StoredToken, type TokenStore,
} from "./token.js";
export type { RequestOptions } from "./transport.js";
export { VERSION } from "./version.js";
