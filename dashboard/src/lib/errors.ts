import { AgentIdPError } from "@sentryagent/idp-sdk";

/** A failure as the dashboard shows it. */
export interface Problem {
  title: string;
  detail: string;
  /** The API's stable code (ErrorInfo reason or OAuth error), if any. */
  code: string;
  httpStatus: number;
  requestId?: string | undefined;
  /** The field the server blamed (its BadRequest field violation), e.g. agent.name. */
  field?: string | undefined;
  forbidden: boolean;
}

/** Code of the synthetic error a restored session gives when its token runs out (see session.ts). */
export const SESSION_EXPIRED = "session_expired";

const ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo";
const BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest";

/** A google.rpc.BadRequest field violation: the field as the API names it, and why. */
export interface FieldViolation {
  field: string;
  description: string;
  reason?: string | undefined;
}

const str = (o: Record<string, unknown>, k: string) => (typeof o[k] === "string" ? o[k] : undefined);

/**
 * The fields the server refused: its BadRequest details or, from a server
 * that sends only an ErrorInfo, the field in its metadata with the status's
 * message.
 */
export function fieldViolations(e: unknown): FieldViolation[] {
  if (!(e instanceof AgentIdPError)) return [];
  const out: FieldViolation[] = [];
  for (const d of e.details) {
    if (d["@type"] !== BAD_REQUEST || !Array.isArray(d["fieldViolations"])) continue;
    for (const v of d["fieldViolations"] as unknown[]) {
      if (typeof v !== "object" || v === null) continue;
      const field = str(v as Record<string, unknown>, "field");
      if (field) out.push({ field, description: str(v as Record<string, unknown>, "description") || e.message, reason: str(v as Record<string, unknown>, "reason") });
    }
  }
  const info = errorInfoField(e);
  if (out.length === 0 && info) out.push({ field: info, description: e.message, reason: e.code });
  return out;
}

/**
 * 403 codes that mean a scope is missing. Any other 403 (POLICY_DENIED,
 * SCOPE_ESCALATION, OWNER_NOT_ALLOWED) is a rule a scope does not lift: the
 * target agent is more powerful than the caller, or of another owner.
 */
const SCOPE_DENIALS = new Set(["INSUFFICIENT_SCOPE", "insufficient_scope", "PERMISSION_DENIED"]);

function errorInfoField(e: AgentIdPError): string | undefined {
  for (const d of e.details) {
    if (d["@type"] === ERROR_INFO) {
      const meta = d["metadata"];
      if (typeof meta === "object" && meta !== null && typeof (meta as Record<string, unknown>)["field"] === "string") {
        return (meta as Record<string, string>)["field"];
      }
    }
  }
  return undefined;
}

/**
 * Turns any failure into a clear message. `requiredScope` names the scope
 * the refused operation needs, so a 403 can say what is missing.
 */
export function describeError(e: unknown, requiredScope?: string): Problem {
  if (!(e instanceof AgentIdPError)) {
    return { title: "Something went wrong", detail: e instanceof Error ? e.message : String(e), code: "UNKNOWN", httpStatus: 0, forbidden: false };
  }
  const base = { code: e.code, httpStatus: e.httpStatus, requestId: e.requestId, field: fieldViolations(e)[0]?.field, forbidden: false };
  const server = e.message ? ` The server said: “${e.message}”.` : "";
  if (e.httpStatus === 403 && !SCOPE_DENIALS.has(e.code)) {
    // The policy's tenancy and escalation rules: no scope would help.
    return { ...base, forbidden: true, title: "Permission denied", detail: `Your agent is not allowed to do this.${server}` };
  }
  if (e.httpStatus === 403) {
    const what = requiredScope
      ? `Your agent is not allowed to do this: it needs the ${requiredScope} scope.`
      : "Your agent is not allowed to do this.";
    return { ...base, forbidden: true, title: "Permission denied", detail: `${what}${server} Ask an administrator to grant the scope, then sign in again.` };
  }
  if (e.code === SESSION_EXPIRED || e.httpStatus === 401) {
    return { ...base, title: "Signed out", detail: "Your session has ended. Sign in again to continue." };
  }
  if (e.httpStatus === 429) {
    const wait = e.retryAfter !== undefined ? ` Try again in ${Math.ceil(e.retryAfter)} s.` : " Try again shortly.";
    return { ...base, title: "Too many requests", detail: `The gateway is rate-limiting this agent.${wait}` };
  }
  if (e.httpStatus === 0) {
    return { ...base, title: "The gateway did not answer", detail: `Check your connection and that the gateway is running. (${e.code})` };
  }
  if (e.httpStatus === 503 || e.httpStatus === 504) {
    return { ...base, title: "Service unavailable", detail: `A service behind the gateway is not answering.${server}` };
  }
  if (e.httpStatus === 404) {
    return { ...base, title: "Not found", detail: e.message || "It does not exist (any more)." };
  }
  if (e.httpStatus === 409) {
    return { ...base, title: "Conflict", detail: `${e.message || "It changed since you loaded it."} Reload and try again.` };
  }
  if (e.httpStatus >= 400 && e.httpStatus < 500) {
    return { ...base, title: "The request was refused", detail: e.message || e.code };
  }
  return { ...base, title: "Server error", detail: e.message || e.code };
}

/**
 * Whether the API said the thing does not exist for the caller: an
 * unknown id or another owner's (the two answers are the same).
 */
export function isNotFound(e: unknown): boolean {
  return e instanceof AgentIdPError && e.httpStatus === 404;
}

/** Whether the error means the session is over (sign the user out). */
export function endsSession(e: unknown): boolean {
  return e instanceof AgentIdPError && (e.code === SESSION_EXPIRED || e.httpStatus === 401);
}
