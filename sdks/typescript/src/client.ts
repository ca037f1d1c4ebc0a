import { AgentIdPError } from "./errors.js";
import {
  type Agent, type AgentChanges, type AgentFilter, type AgentInput, type AuditCheckpoint, type AuditEvent, type AuditFilter,
  type ChainVerification, type Credential, type Introspection, type IssuedCredential, type Page, type TokenResponse,
  parseAgent, parseAuditCheckpoint, parseAuditEvent, parseChainVerification, parseCredential, parseIntrospection, parseIssuedCredential, parsePage,
  parseTokenResponse,
} from "./models.js";
import { Secret } from "./secret.js";
import { TokenManager, type TokenStore } from "./token.js";
import { type RequestOptions, Transport, newRequestId, seg } from "./transport.js";

export interface ClientOptions {
  /** The gateway, e.g. `http://127.0.0.1:8080`; in a browser app served by the gateway, `location.origin`. */
  baseUrl: string;
  clientId: string;
  clientSecret: string | Secret;
  /** The scopes the client's token asks for; default: every scope the agent holds. */
  scopes?: string[] | undefined;
  /** Bounds each attempt (default 30 000 ms). */
  timeoutMs?: number | undefined;
  /** 429/503 retries for calls that are safe to repeat (default 3; 0 turns them off). */
  maxRetries?: number | undefined;
  /** The longest Retry-After waited for before giving up (default 30 000 ms). */
  maxRetryAfterMs?: number | undefined;
  /** Prepended to the SDK's User-Agent (outside browsers). */
  userAgent?: string | undefined;
  /** Where the access token is kept (default: memory). */
  tokenStore?: TokenStore | undefined;
  /** The fetch to use (default: the global one). */
  fetch?: typeof fetch | undefined;
}

/**
 * The AgentIdP API as one identity. Create one per identity and reuse it:
 * it caches its access token.
 */
export class AgentIdPClient {
  readonly agents: Agents;
  readonly credentials: Credentials;
  readonly tokens: Tokens;
  readonly audit: Audit;
  readonly tokenManager: TokenManager;
  readonly clientId: string;
  readonly scopes: readonly string[] | undefined;

  constructor(o: ClientOptions) {
    if (!o.baseUrl || !o.clientId || !o.clientSecret) {
      throw new TypeError("AgentIdPClient needs baseUrl, clientId and clientSecret");
    }
    this.clientId = o.clientId;
    this.scopes = o.scopes && o.scopes.length > 0 ? [...o.scopes] : undefined;
    const t = new Transport({
      baseUrl: o.baseUrl, clientId: o.clientId, clientSecret: Secret.of(o.clientSecret),
      timeoutMs: o.timeoutMs ?? 30_000, maxRetries: Math.max(0, o.maxRetries ?? 3),
      maxRetryAfterMs: o.maxRetryAfterMs ?? 30_000, userAgent: o.userAgent,
      fetch: o.fetch ?? ((input, init) => globalThis.fetch(input, init)),
    });
    this.tokens = new Tokens(t, this.scopes);
    this.tokenManager = new TokenManager(() => this.tokens.issue(), o.tokenStore ? { store: o.tokenStore } : {});
    t.tokens = this.tokenManager;
    this.agents = new Agents(t);
    this.credentials = new Credentials(t);
    this.audit = new Audit(t);
  }

  /** Drops the cached access token: the next call gets a new one. */
  clearTokenCache(): void {
    this.tokenManager.clear();
  }

  toString(): string {
    return `AgentIdPClient(${this.clientId})`;
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}

async function* iterate<T>(page: (token: string | undefined) => Promise<Page<T>>): AsyncGenerator<T, void, undefined> {
  let token: string | undefined;
  for (;;) {
    const p = await page(token);
    yield* p.items;
    if (!p.nextPageToken) return;
    token = p.nextPageToken;
  }
}

const AGENT_FIELDS = [
  "name", "description", "agentType", "version", "owner", "capabilities", "scopes", "deploymentEnv", "metadata",
] as const;

function agentBody(fields: AgentChanges): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const k of AGENT_FIELDS) if (fields[k] !== undefined) body[k] = fields[k];
  return body;
}

/**
 * Agents and their lifecycle (`/v1/agents`). A caller without platform:admin
 * reaches only its own owner's agents: another owner's agent is an
 * AgentIdPError AGENT_NOT_FOUND (404), as one that does not exist.
 */
export class Agents {
  readonly #t: Transport;

  constructor(t: Transport) {
    this.#t = t;
  }

  /** Registers an agent (status active); safe to retry thanks to its requestId. */
  register(input: AgentInput, opts?: RequestOptions): Promise<Agent> {
    return this.#t.send({
      method: "POST", path: "/v1/agents", query: { requestId: input.requestId ?? newRequestId() },
      json: agentBody(input), auth: "bearer", retry: true, parse: parseAgent,
    }, opts);
  }

  async get(agentId: string, opts?: RequestOptions): Promise<Agent> {
    return this.#t.send({ method: "GET", path: `/v1/agents/${seg(agentId, "agentId")}`, auth: "bearer", retry: true, parse: parseAgent }, opts);
  }

  /** One page, oldest first; pass `nextPageToken` (same filter) for the next. */
  listPage(filter: AgentFilter = {}, pageToken?: string | undefined, opts?: RequestOptions): Promise<Page<Agent>> {
    return this.#t.send({
      method: "GET", path: "/v1/agents", auth: "bearer", retry: true, parse: parsePage("agents", parseAgent),
      query: { ...filter, pageToken },
    }, opts);
  }

  /** `for await (const a of client.agents.list({owner}))`: pages are fetched lazily. */
  list(filter: AgentFilter = {}, opts?: RequestOptions): AsyncGenerator<Agent, void, undefined> {
    return iterate((token) => this.listPage(filter, token, opts));
  }

  /**
   * Sets the fields present in `changes` (only those). With `etag`, fails
   * with ETAG_MISMATCH (409) if the agent changed since it was read.
   */
  async update(agentId: string, changes: AgentChanges, options: { etag?: string | undefined } & RequestOptions = {}): Promise<Agent> {
    return this.#update(agentId, agentBody(changes), options);
  }

  /** Suspends the agent: its tokens stop working. */
  suspend(agentId: string, opts?: RequestOptions): Promise<Agent> {
    return this.#update(agentId, { status: "suspended" }, opts ?? {});
  }

  reactivate(agentId: string, opts?: RequestOptions): Promise<Agent> {
    return this.#update(agentId, { status: "active" }, opts ?? {});
  }

  /** Ends the agent for good (credentials and tokens stop working); idempotent. */
  async decommission(agentId: string, opts?: RequestOptions): Promise<Agent> {
    return this.#t.send({ method: "DELETE", path: `/v1/agents/${seg(agentId, "agentId")}`, auth: "bearer", retry: true, parse: parseAgent }, opts);
  }

  async #update(agentId: string, body: Record<string, unknown>, o: { etag?: string | undefined } & RequestOptions): Promise<Agent> {
    const mask = Object.keys(body).join(",");
    if (!mask) throw new AgentIdPError({ code: "INVALID_ARGUMENT", message: "the update sets no field" });
    if (o.etag) body["etag"] = o.etag;
    // Setting fields to given values is idempotent: safe to retry.
    return this.#t.send({
      method: "PATCH", path: `/v1/agents/${seg(agentId, "agentId")}`, query: { updateMask: mask }, json: body,
      auth: "bearer", retry: true, parse: parseAgent,
    }, o);
  }
}

/** Agents' client credentials (`/v1/agents/{agentId}/credentials`). */
export class Credentials {
  readonly #t: Transport;

  constructor(t: Transport) {
    this.#t = t;
  }

  /** A new credential; its secret is shown this once. Never retried. */
  async generate(agentId: string, options: { ttlSeconds?: number | undefined } & RequestOptions = {}): Promise<IssuedCredential> {
    const json = options.ttlSeconds ? { ttlSeconds: options.ttlSeconds } : {};
    return this.#t.send({
      method: "POST", path: `/v1/agents/${seg(agentId, "agentId")}/credentials`, json, auth: "bearer", retry: false,
      parse: parseIssuedCredential,
    }, options);
  }

  async listPage(agentId: string, page: { pageSize?: number | undefined; pageToken?: string | undefined } = {}, opts?: RequestOptions): Promise<Page<Credential>> {
    return this.#t.send({
      method: "GET", path: `/v1/agents/${seg(agentId, "agentId")}/credentials`, query: { ...page }, auth: "bearer",
      retry: true, parse: parsePage("credentials", parseCredential),
    }, opts);
  }

  /** Every credential of the agent (metadata only), fetched lazily. */
  list(agentId: string, options: { pageSize?: number | undefined } & RequestOptions = {}): AsyncGenerator<Credential, void, undefined> {
    const { pageSize, ...opts } = options;
    return iterate((pageToken) =>
      this.listPage(agentId, { ...(pageSize ? { pageSize } : {}), ...(pageToken ? { pageToken } : {}) }, opts));
  }

  /** A new secret; the previous one keeps working for the grace period. Never retried. */
  async rotate(agentId: string, credentialId: string, options: { gracePeriodSeconds?: number | undefined } & RequestOptions = {}): Promise<IssuedCredential> {
    const json = options.gracePeriodSeconds ? { gracePeriodSeconds: options.gracePeriodSeconds } : {};
    return this.#t.send({
      method: "POST", path: `/v1/agents/${seg(agentId, "agentId")}/credentials/${seg(credentialId, "credentialId")}:rotate`,
      json, auth: "bearer", retry: false, parse: parseIssuedCredential,
    }, options);
  }

  async revoke(agentId: string, credentialId: string, opts?: RequestOptions): Promise<Credential> {
    return this.#t.send({
      method: "DELETE", path: `/v1/agents/${seg(agentId, "agentId")}/credentials/${seg(credentialId, "credentialId")}`,
      auth: "bearer", retry: true, parse: parseCredential,
    }, opts);
  }
}

function tokenValue(token: string | Secret): string {
  const v = token instanceof Secret ? token.reveal() : token;
  if (typeof v !== "string" || v === "") {
    throw new AgentIdPError({ code: "INVALID_ARGUMENT", message: "token must be a non-empty string" });
  }
  return v;
}

/** OAuth 2.0: tokens for the client's own identity, introspection, revocation. */
export class Tokens {
  readonly #t: Transport;
  readonly #scopes: readonly string[] | undefined;

  constructor(t: Transport, scopes: readonly string[] | undefined) {
    this.#t = t;
    this.#scopes = scopes;
  }

  /** A new token (client_credentials) for `scopes` or the client's scopes; bypasses the token cache. */
  issue(scopes?: string[] | undefined, opts?: RequestOptions): Promise<TokenResponse> {
    const s = scopes ?? this.#scopes;
    const form: Record<string, string> = { grant_type: "client_credentials" };
    if (s && s.length > 0) form["scope"] = s.join(" ");
    // Issuing a token changes nothing a repeat would duplicate.
    return this.#t.send({ method: "POST", path: "/oauth2/token", form, auth: "basic", retry: true, parse: parseTokenResponse }, opts);
  }

  /** RFC 7662; the client's token needs the scope tokens:introspect. */
  async introspect(token: string | Secret, opts?: RequestOptions): Promise<Introspection> {
    return this.#t.send({
      method: "POST", path: "/oauth2/introspect", form: { token: tokenValue(token) }, auth: "bearer", retry: true,
      parse: parseIntrospection,
    }, opts);
  }

  /** RFC 7009: revokes one of the client's own tokens. */
  async revoke(token: string | Secret, opts?: RequestOptions): Promise<void> {
    const value = tokenValue(token);
    await this.#t.send({
      method: "POST", path: "/oauth2/revoke", form: { token: value, token_type_hint: "access_token" }, auth: "basic",
      retry: true, parse: () => undefined,
    }, opts);
    this.#t.tokens?.invalidate(new Secret(value));
  }
}

/** The audit log (`/v1/audit`; scope audit:read). */
export class Audit {
  readonly #t: Transport;

  constructor(t: Transport) {
    this.#t = t;
  }

  /** One page of matching events, newest first. */
  queryPage(filter: AuditFilter = {}, pageToken?: string | undefined, opts?: RequestOptions): Promise<Page<AuditEvent>> {
    const { startTime, endTime, ...rest } = filter;
    return this.#t.send({
      method: "GET", path: "/v1/audit/events", auth: "bearer", retry: true, parse: parsePage("events", parseAuditEvent),
      query: { ...rest, startTime: startTime?.toISOString(), endTime: endTime?.toISOString(), pageToken },
    }, opts);
  }

  /** Every matching event, newest first, fetched lazily. */
  query(filter: AuditFilter = {}, opts?: RequestOptions): AsyncGenerator<AuditEvent, void, undefined> {
    return iterate((token) => this.queryPage(filter, token, opts));
  }

  async get(eventId: string, opts?: RequestOptions): Promise<AuditEvent> {
    return this.#t.send({
      method: "GET", path: `/v1/audit/events/${seg(eventId, "eventId")}`, auth: "bearer", retry: true, parse: parseAuditEvent,
    }, opts);
  }

  /**
   * Recomputes the audit log's hash chain over the sequences from
   * `fromSequence` (0 or absent: the oldest kept) to `toSequence` (0 or
   * absent: the newest, and then the recorded head is checked too). Needs
   * audit:read and platform:admin. A broken chain is a result (`ok` false,
   * `firstBreak` set), not an error.
   */
  async verify(
    range: { fromSequence?: number | undefined; toSequence?: number | undefined } = {}, opts?: RequestOptions,
  ): Promise<ChainVerification> {
    const from = range.fromSequence ?? 0;
    const to = range.toSequence ?? 0;
    if (!Number.isInteger(from) || !Number.isInteger(to) || from < 0 || to < 0 || (to > 0 && from > to)) {
      throw new AgentIdPError({ code: "INVALID_ARGUMENT", message: "the range needs 0 <= fromSequence <= toSequence" });
    }
    return this.#t.send({
      method: "GET", path: "/v1/audit/verify", auth: "bearer", retry: true, parse: parseChainVerification,
      query: { fromSequence: from || undefined, toSequence: to || undefined },
    }, opts);
  }

  /**
   * One page of the chain's signed checkpoints at or after `fromSequence`
   * (absent: all), oldest first. Needs audit:read and platform:admin.
   */
  async checkpointsPage(
    filter: { fromSequence?: number | undefined; pageSize?: number | undefined } = {},
    pageToken?: string | undefined, opts?: RequestOptions,
  ): Promise<Page<AuditCheckpoint>> {
    const from = filter.fromSequence ?? 0;
    if (!Number.isInteger(from) || from < 0) {
      throw new AgentIdPError({ code: "INVALID_ARGUMENT", message: "fromSequence must be a non-negative integer" });
    }
    return this.#t.send({
      method: "GET", path: "/v1/audit/checkpoints", auth: "bearer", retry: true,
      parse: parsePage("checkpoints", parseAuditCheckpoint),
      query: { fromSequence: from || undefined, pageSize: filter.pageSize, pageToken },
    }, opts);
  }

  /** Every signed checkpoint at or after `fromSequence`, oldest first, fetched lazily. */
  checkpoints(
    filter: { fromSequence?: number | undefined; pageSize?: number | undefined } = {}, opts?: RequestOptions,
  ): AsyncGenerator<AuditCheckpoint, void, undefined> {
    return iterate((token) => this.checkpointsPage(filter, token, opts));
  }
}
