/**
 * What the signed-in agent may do, read from its access token's `scope`
 * claim (RFC 9068). The gateway's policy decides; the dashboard only uses
 * the scopes to hide or disable what would certainly be refused, and says
 * why. The table mirrors ARCHITECTURE.md's REST table.
 */

export const SCOPES = ["agents:read", "agents:write", "credentials:write", "tokens:introspect", "audit:read"] as const;
export type Scope = (typeof SCOPES)[number];

/** The scope each dashboard action needs. */
export const REQUIRED_SCOPE = {
  listAgents: "agents:read",
  registerAgent: "agents:write",
  updateAgent: "agents:write",
  decommissionAgent: "agents:write",
  listCredentials: "agents:read",
  generateCredential: "credentials:write",
  rotateCredential: "credentials:write",
  revokeCredential: "credentials:write",
  readAudit: "audit:read",
} as const satisfies Record<string, Scope>;

export type Action = keyof typeof REQUIRED_SCOPE;

export type Permission = { allowed: true } | { allowed: false; reason: string };

/** Whether `scopes` allow `action`, with the reason when they do not. */
export function permission(scopes: ReadonlySet<string>, action: Action): Permission {
  const need = REQUIRED_SCOPE[action];
  if (scopes.has(need)) return { allowed: true };
  return { allowed: false, reason: `Needs the ${need} scope, which your token does not carry.` };
}

/** The claims of a JWT, without verifying it (the gateway verifies; this only reads). */
export function jwtClaims(token: string): Record<string, unknown> | undefined {
  const part = token.split(".")[1];
  if (!part) return undefined;
  try {
    const b64 = part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "=");
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const v: unknown = JSON.parse(new TextDecoder().decode(bytes));
    return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The token's scopes: RFC 9068's space-separated `scope`, or an `scp` array. */
export function tokenScopes(token: string): Set<string> {
  const c = jwtClaims(token);
  if (!c) return new Set();
  if (typeof c["scope"] === "string") return new Set(c["scope"].split(" ").filter(Boolean));
  if (Array.isArray(c["scp"])) return new Set(c["scp"].filter((s): s is string => typeof s === "string"));
  return new Set();
}

/** When the token expires (its `exp` claim), if it says. */
export function tokenExpiry(token: string): Date | undefined {
  const exp = jwtClaims(token)?.["exp"];
  return typeof exp === "number" ? new Date(exp * 1000) : undefined;
}
