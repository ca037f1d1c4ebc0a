/**
 * What the signed-in agent may do, read from its access token's `scope`
 * and `owner` claims (RFC 9068, docs/token.md). The gateway's policy
 * decides; the dashboard only uses them to hide or disable what would
 * certainly be refused, and says why. The table mirrors
 * policies/data/scopes.json; the tenancy rules mirror docs/authz.md
 * ("Tenancy and escalation").
 */
import type { Agent } from "@sentryagent/idp-sdk";

/** Operators' scope: it reaches every owner and is never subject to the subset rule. */
export const PLATFORM_ADMIN = "platform:admin";

export const SCOPES = ["agents:read", "agents:write", "credentials:write", "tokens:introspect", "audit:read", PLATFORM_ADMIN] as const;
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
  // The hash chain spans every owner's events.
  verifyAuditChain: PLATFORM_ADMIN,
} as const satisfies Record<string, Scope>;

export type Action = keyof typeof REQUIRED_SCOPE;

export type Permission = { allowed: true } | { allowed: false; reason: string };

/** Whether `scopes` allow `action`, with the reason when they do not. */
export function permission(scopes: ReadonlySet<string>, action: Action): Permission {
  const need = REQUIRED_SCOPE[action];
  if (scopes.has(need)) return { allowed: true };
  return { allowed: false, reason: `Needs the ${need} scope, which your token does not carry.` };
}

/** Whether `scopes` make the caller a platform admin, who sees and manages every owner. */
export function isPlatformAdmin(scopes: ReadonlySet<string>): boolean {
  return scopes.has(PLATFORM_ADMIN);
}

/** The signed-in agent as the tenancy rules see it. */
export interface Caller {
  clientId: string;
  scopes: ReadonlySet<string>;
}

/** Actions on one agent, which the tenancy and escalation rules also govern. */
export type AgentAction = "updateAgent" | "decommissionAgent" | "generateCredential" | "rotateCredential" | "revokeCredential";

/**
 * Whether `caller` may take `action` on `agent`: the scope `action` needs
 * and, unless the caller is a platform admin, every scope the agent holds
 * (nobody changes another agent, or creates, rotates or revokes a
 * credential of any agent, its own included, that is more powerful than its
 * token). An agent may rotate its own credential without credentials:write
 * when its token carries every scope the agent holds. Another owner's agent
 * never gets here: the server answers 404 for it.
 */
export function agentPermission(caller: Caller, agent: Pick<Agent, "agentId" | "name" | "scopes">, action: AgentAction): Permission {
  const self = agent.agentId.toLowerCase() === caller.clientId.toLowerCase();
  const lacks = isPlatformAdmin(caller.scopes) ? [] : agent.scopes.filter((s) => !caller.scopes.has(s));
  const credential = action === "generateCredential" || action === "rotateCredential" || action === "revokeCredential";
  if (self && action === "rotateCredential" && lacks.length === 0) return { allowed: true };
  const p = permission(caller.scopes, action);
  if (!p.allowed || lacks.length === 0 || (self && !credential)) return p;
  const which = `${lacks.length === 1 ? "a scope" : "scopes"} your token does not carry (${lacks.join(", ")})`;
  return {
    allowed: false,
    reason: self
      ? `Your agent holds ${which}: sign in with a token carrying every scope of it to manage its credentials.`
      : `${agent.name} holds ${which}: only a platform admin may change it or its credentials.`,
  };
}

/**
 * Whether `caller` may change `agent` itself (its fields, its status):
 * agentPermission, and never a decommissioned agent nor the caller's own
 * record (the policy refuses both); `selfReason` says why not for the latter.
 */
export function agentChangePermission(caller: Caller, agent: Pick<Agent, "agentId" | "name" | "scopes" | "status">,
  action: "updateAgent" | "decommissionAgent", selfReason: string): Permission {
  const p = agentPermission(caller, agent, action);
  if (!p.allowed) return p;
  if (agent.status === "decommissioned") return { allowed: false, reason: "The agent is decommissioned: nothing about it can change." };
  if (agent.agentId.toLowerCase() === caller.clientId.toLowerCase()) return { allowed: false, reason: selfReason };
  return p;
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

/** The token's `owner` claim: the signed-in agent's owner (tenant), if the token says. */
export function tokenOwner(token: string): string | undefined {
  const o = jwtClaims(token)?.["owner"];
  return typeof o === "string" && o !== "" ? o : undefined;
}

/** When the token expires (its `exp` claim), if it says. */
export function tokenExpiry(token: string): Date | undefined {
  const exp = jwtClaims(token)?.["exp"];
  return typeof exp === "number" ? new Date(exp * 1000) : undefined;
}
