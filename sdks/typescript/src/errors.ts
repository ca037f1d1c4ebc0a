/**
 * Every error of the API, from either of its shapes: google.rpc.Status on
 * `/v1` (`code` is the ErrorInfo reason, e.g. `AGENT_NOT_FOUND`) and RFC 6749
 * §5.2 on `/oauth2` (`code` is the OAuth error, e.g. `invalid_client`). A
 * request that got no answer has `httpStatus` 0 and `code` `UNAVAILABLE`,
 * `DEADLINE_EXCEEDED` or `CANCELLED`, with the failure as `cause`.
 */
export class AgentIdPError extends Error {
  override readonly name = "AgentIdPError";
  /** Stable: match on it, never on `message`. */
  readonly code: string;
  /** The response's status; 0 if there was none. */
  readonly httpStatus: number;
  /** The google.rpc.Status details as sent; empty for `/oauth2` errors. */
  readonly details: Array<Record<string, unknown>>;
  /** The server's Retry-After in seconds (429, 503). */
  readonly retryAfter: number | undefined;
  /** The gateway's x-request-id: quote it when reporting. */
  readonly requestId: string | undefined;

  constructor(init: {
    code: string;
    message: string;
    httpStatus?: number;
    details?: Array<Record<string, unknown>>;
    retryAfter?: number | undefined;
    requestId?: string | undefined;
    cause?: unknown;
  }) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = init.code;
    this.httpStatus = init.httpStatus ?? 0;
    this.details = init.details ?? [];
    this.retryAfter = init.retryAfter;
    this.requestId = init.requestId;
  }

  override toString(): string {
    return `${this.name}: ${this.code}${this.httpStatus ? ` (HTTP ${this.httpStatus})` : ""}: ${this.message}`;
  }
}

const ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo";

const GRPC_CODES = [
  "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
  "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
  "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
];

const STATUS_CODES: Record<number, string> = {
  400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 409: "ABORTED",
  429: "RESOURCE_EXHAUSTED", 501: "UNIMPLEMENTED", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED",
};

const REASONS: Record<number, string> = {
  400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 409: "Conflict",
  429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
  504: "Gateway Timeout",
};

/** Retry-After as seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, (at - Date.now()) / 1000);
}

/** Turns a non-2xx response into an AgentIdPError. */
export function errorFromResponse(status: number, headers: Headers, body: string): AgentIdPError {
  let code = "";
  let message = "";
  let details: Array<Record<string, unknown>> = [];
  let data: unknown;
  try {
    data = body ? JSON.parse(body) : undefined;
  } catch {
    data = undefined;
  }
  if (isObject(data)) {
    if (typeof data["error"] === "string") {
      code = data["error"];
      message = typeof data["error_description"] === "string" ? data["error_description"] : "";
    } else if ("code" in data || "message" in data) {
      message = typeof data["message"] === "string" ? data["message"] : "";
      if (Array.isArray(data["details"])) details = data["details"].filter(isObject);
      for (const d of details) {
        if (d["@type"] === ERROR_INFO && typeof d["reason"] === "string") code = d["reason"];
      }
      const n = data["code"];
      if (!code && typeof n === "number") code = GRPC_CODES[n] ?? "";
    }
  }
  if (!code) code = STATUS_CODES[status] ?? (status >= 500 ? "INTERNAL" : "UNKNOWN");
  if (!message) message = REASONS[status] ?? `HTTP ${status}`;
  return new AgentIdPError({
    code, message, httpStatus: status, details,
    retryAfter: parseRetryAfter(headers.get("retry-after")),
    requestId: headers.get("x-request-id") ?? undefined,
  });
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
