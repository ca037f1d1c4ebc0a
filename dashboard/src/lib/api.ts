/**
 * The few calls the TypeScript SDK does not cover: the audit chain's
 * verification (GET /v1/audit/verify) and the gateway's health endpoints.
 * Same origin as the dashboard; errors become AgentIdPError like the SDK's.
 */
import { AgentIdPError } from "@sentryagent/idp-sdk";

import { parseReadiness, type ReadinessReport } from "./health";
import type { Session } from "./session";

export interface ChainBreak {
  sequence: number;
  eventId: string;
  kind: string;
  expected: string;
  actual: string;
}

export interface ChainVerification {
  ok: boolean;
  fromSequence: number;
  toSequence: number;
  eventsChecked: number;
  firstBreak?: ChainBreak | undefined;
}

const GRPC_CODES = [
  "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
  "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
  "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
];

/** An AgentIdPError from a google.rpc.Status response (the SDK's rules). */
export function statusError(status: number, headers: Headers, text: string): AgentIdPError {
  let code = "";
  let message = "";
  let details: Array<Record<string, unknown>> = [];
  try {
    const d: unknown = JSON.parse(text);
    if (typeof d === "object" && d !== null) {
      const o = d as Record<string, unknown>;
      message = typeof o["message"] === "string" ? o["message"] : "";
      if (Array.isArray(o["details"])) details = o["details"].filter((x): x is Record<string, unknown> => typeof x === "object" && x !== null);
      for (const x of details) if (x["@type"] === "type.googleapis.com/google.rpc.ErrorInfo" && typeof x["reason"] === "string") code = x["reason"];
      if (!code && typeof o["code"] === "number") code = GRPC_CODES[o["code"]] ?? "";
    }
  } catch {
    // not JSON: a proxy's page
  }
  const retry = headers.get("retry-after");
  return new AgentIdPError({
    code: code || (status === 403 ? "PERMISSION_DENIED" : status === 401 ? "UNAUTHENTICATED" : `HTTP_${status}`),
    message: message || `HTTP ${status}`, httpStatus: status, details,
    retryAfter: retry && /^\d+$/.test(retry) ? Number(retry) : undefined,
    requestId: headers.get("x-request-id") ?? undefined,
  });
}

const num = (v: unknown) => (typeof v === "number" ? v : typeof v === "string" && v !== "" ? Number(v) : 0);
const str = (v: unknown) => (typeof v === "string" ? v : "");

async function get(url: string, init: RequestInit): Promise<{ status: number; headers: Headers; text: string }> {
  try {
    const r = await fetch(url, { ...init, credentials: "omit", headers: { Accept: "application/json", ...init.headers } });
    return { status: r.status, headers: r.headers, text: await r.text() };
  } catch (e) {
    if (init.signal?.aborted) throw new AgentIdPError({ code: "CANCELLED", message: "the call was aborted", cause: e });
    throw new AgentIdPError({ code: "UNAVAILABLE", message: `the request failed: ${String(e)}`, cause: e });
  }
}

/** GET /v1/audit/verify: recomputes the hash chain (scope audit:read). */
export async function verifyAuditChain(session: Session, baseUrl: string, signal?: AbortSignal): Promise<ChainVerification> {
  const token = await session.client.tokenManager.token();
  const r = await get(`${baseUrl}/v1/audit/verify`, { headers: { Authorization: `Bearer ${token.reveal()}` }, ...(signal ? { signal } : {}) });
  if (r.status !== 200) throw statusError(r.status, r.headers, r.text);
  const d = JSON.parse(r.text) as Record<string, unknown>;
  const b = d["firstBreak"];
  const fb = typeof b === "object" && b !== null ? (b as Record<string, unknown>) : undefined;
  return {
    ok: d["ok"] === true, fromSequence: num(d["fromSequence"]), toSequence: num(d["toSequence"]), eventsChecked: num(d["eventsChecked"]),
    firstBreak: fb && d["ok"] !== true
      ? { sequence: num(fb["sequence"]), eventId: str(fb["eventId"]), kind: str(fb["kind"]), expected: str(fb["expected"]), actual: str(fb["actual"]) }
      : undefined,
  };
}

export interface GatewayHealth {
  /** GET /healthz answered 200 (Envoy itself). */
  live: boolean;
  /** GET /readyz: 200 when every service is ready, 503 with the same report when not. */
  readiness: ReadinessReport | undefined;
  readyStatus: number;
  checkedAt: Date;
  latencyMs: number;
}

/** Liveness and readiness through the gateway; needs no token. */
export async function gatewayHealth(baseUrl: string, signal?: AbortSignal): Promise<GatewayHealth> {
  const init: RequestInit = signal ? { signal, cache: "no-store" } : { cache: "no-store" };
  const t0 = performance.now();
  const [live, ready] = await Promise.allSettled([get(`${baseUrl}/healthz`, init), get(`${baseUrl}/readyz`, init)]);
  const latencyMs = Math.round(performance.now() - t0);
  let readiness: ReadinessReport | undefined;
  let readyStatus = 0;
  if (ready.status === "fulfilled") {
    readyStatus = ready.value.status;
    try {
      readiness = parseReadiness(JSON.parse(ready.value.text));
    } catch {
      readiness = undefined;
    }
  }
  return { live: live.status === "fulfilled" && live.value.status === 200, readiness, readyStatus, checkedAt: new Date(), latencyMs };
}
