import { AgentIdPError, errorFromResponse } from "./errors.js";
import { Secret } from "./secret.js";
import type { TokenManager } from "./token.js";
import { VERSION } from "./version.js";

/** One API operation. */
export interface Call<T> {
  method: "GET" | "POST" | "PATCH" | "DELETE";
  /** Already escaped. */
  path: string;
  query?: Record<string, string | number | undefined>;
  json?: unknown;
  form?: Record<string, string>;
  /** "bearer": the client's token (every /v1 call); "basic": client_secret_basic (token endpoint, revocation). */
  auth: "bearer" | "basic";
  /** May be repeated after 429/503: reads, idempotent writes, creates carrying a requestId. */
  retry: boolean;
  parse: (body: unknown) => T;
}

/** Per-call options. */
export interface RequestOptions {
  /** Aborts the call (and its retries). */
  signal?: AbortSignal | undefined;
}

export interface TransportOptions {
  baseUrl: string;
  clientId: string;
  clientSecret: Secret;
  timeoutMs: number;
  maxRetries: number;
  maxRetryAfterMs: number;
  userAgent: string | undefined;
  fetch: typeof fetch;
}

const BACKOFF_MS = 200;
const MAX_BACKOFF_MS = 5_000;

export class Transport {
  tokens: TokenManager | undefined;
  readonly #o: TransportOptions;
  readonly #base: string;
  readonly #userAgent: string | undefined;

  constructor(o: TransportOptions) {
    this.#o = o;
    this.#base = o.baseUrl.replace(/\/+$/, "");
    // Browsers set their own User-Agent; elsewhere (Node) we name the SDK.
    const ua = `agentidp-sdk-typescript/${VERSION}`;
    this.#userAgent = typeof document === "undefined" ? (o.userAgent ? `${o.userAgent} ${ua}` : ua) : undefined;
  }

  async send<T>(call: Call<T>, opts: RequestOptions = {}): Promise<T> {
    let refreshed = false;
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = { Accept: "application/json" };
      if (this.#userAgent) headers["User-Agent"] = this.#userAgent;
      let bearer: Secret | undefined;
      if (call.auth === "bearer") {
        if (!this.tokens) throw new Error("no token manager");
        bearer = await this.tokens.token();
        headers["Authorization"] = `Bearer ${bearer.reveal()}`;
      } else {
        // RFC 6749 §2.3.1: both parts form-encoded first.
        const raw = `${encodeURIComponent(this.#o.clientId)}:${encodeURIComponent(this.#o.clientSecret.reveal())}`;
        headers["Authorization"] = `Basic ${btoa(raw)}`;
      }
      let body: string | undefined;
      if (call.json !== undefined) {
        headers["Content-Type"] = "application/json";
        body = JSON.stringify(call.json);
      } else if (call.form !== undefined) {
        headers["Content-Type"] = "application/x-www-form-urlencoded";
        body = new URLSearchParams(call.form).toString();
      }
      const { status, respHeaders, text } = await this.#attempt(call, headers, body, opts.signal);
      if (status >= 200 && status < 300) {
        let data: unknown = undefined;
        if (text.trim() !== "") {
          try {
            data = JSON.parse(text);
          } catch (e) {
            throw new AgentIdPError({
              code: "INTERNAL", message: "the response is not the JSON this SDK expects", httpStatus: status,
              requestId: respHeaders.get("x-request-id") ?? undefined, cause: e,
            });
          }
        }
        return call.parse(data);
      }
      const err = errorFromResponse(status, respHeaders, text);
      // A token the gateway no longer accepts (revoked, expired early): the
      // request was refused before it reached a service, so one retry with a
      // new token is safe. Other 401s (a suspended agent) are returned.
      if (bearer && !refreshed && status === 401 &&
          (err.code === "INVALID_TOKEN" || (respHeaders.get("www-authenticate") ?? "").includes("invalid_token"))) {
        refreshed = true;
        this.tokens?.invalidate(bearer);
        attempt--; // not a retry of the 429/503 kind
        continue;
      }
      const delay = this.#delay(call, attempt, err);
      if (delay === undefined) throw err;
      await sleep(delay, opts.signal).catch(() => {
        throw err;
      });
    }
  }

  /** Milliseconds before the next attempt, or undefined to give up. */
  #delay(call: Call<unknown>, attempt: number, err: AgentIdPError): number | undefined {
    if (!call.retry || attempt >= this.#o.maxRetries || (err.httpStatus !== 429 && err.httpStatus !== 503)) {
      return undefined;
    }
    if (err.retryAfter !== undefined) {
      const ms = err.retryAfter * 1000;
      if (ms > this.#o.maxRetryAfterMs) return undefined;
      return ms + Math.random() * BACKOFF_MS;
    }
    return Math.random() * Math.min(MAX_BACKOFF_MS, BACKOFF_MS * 2 ** attempt);
  }

  async #attempt(
    call: Call<unknown>, headers: Record<string, string>, body: string | undefined, signal: AbortSignal | undefined,
  ): Promise<{ status: number; respHeaders: Headers; text: string }> {
    let url = this.#base + call.path;
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(call.query ?? {})) if (v !== undefined && v !== "") q.set(k, String(v));
    const qs = q.toString();
    if (qs !== "") url += `?${qs}`;
    // One controller per attempt: our timeout or the caller's signal aborts it.
    const ctl = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ctl.abort();
    }, this.#o.timeoutMs);
    const onAbort = () => ctl.abort();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      if (signal?.aborted) throw signal.reason;
      const init: RequestInit = { method: call.method, headers, signal: ctl.signal, credentials: "omit" };
      if (body !== undefined) init.body = body;
      const resp = await this.#o.fetch(url, init);
      const text = await resp.text();
      return { status: resp.status, respHeaders: resp.headers, text };
    } catch (e) {
      if (timedOut) {
        throw new AgentIdPError({ code: "DEADLINE_EXCEEDED", message: `no answer within ${this.#o.timeoutMs} ms`, cause: e });
      }
      if (signal?.aborted) throw new AgentIdPError({ code: "CANCELLED", message: "the call was aborted", cause: e });
      throw new AgentIdPError({ code: "UNAVAILABLE", message: `the request failed: ${String(e)}`, cause: e });
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** One escaped path segment; empty ids are refused before sending. */
export function seg(value: string, name: string): string {
  if (typeof value !== "string" || value === "") {
    throw new AgentIdPError({ code: "INVALID_ARGUMENT", message: `${name} must be a non-empty string` });
  }
  return encodeURIComponent(value);
}

export function newRequestId(): string {
  const c = globalThis.crypto;
  if (c && typeof c.randomUUID === "function") return c.randomUUID();
  // Insecure contexts (plain http, not localhost) lack randomUUID.
  const b = new Uint8Array(16);
  c.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}
