import { isObject } from "./errors.js";
import { Secret } from "./secret.js";

export type AgentStatus = "active" | "suspended" | "decommissioned";

/** A registered AI agent. Its `agentId` is also its OAuth client_id. */
export interface Agent {
  agentId: string;
  name: string;
  description: string;
  agentType: string;
  version: string;
  /**
   * The agent's tenant. A caller without platform:admin sees and manages only
   * its own owner's agents (another owner's agent is AGENT_NOT_FOUND, like one
   * that does not exist).
   */
  owner: string;
  capabilities: string[];
  scopes: string[];
  deploymentEnv: string;
  metadata: Record<string, string>;
  status: AgentStatus;
  createdAt?: Date;
  updatedAt?: Date;
  decommissionedAt?: Date;
  /** When the agent was last suspended (kept after a reactivation). */
  suspendedAt?: Date;
  /** Changes with every update; pass it to `update` to make it conditional. */
  etag: string;
}

/** The fields an agent is registered with; `name` is required. */
export interface AgentInput {
  name: string;
  description?: string | undefined;
  agentType?: string | undefined;
  version?: string | undefined;
  /** Defaults to the caller's own owner; naming another needs platform:admin. */
  owner?: string | undefined;
  capabilities?: string[] | undefined;
  scopes?: string[] | undefined;
  deploymentEnv?: string | undefined;
  metadata?: Record<string, string> | undefined;
  /**
   * Makes the registration idempotent: repeating it returns the agent the
   * first call created. Left out, the SDK generates one per call, so that
   * its own retries never register twice.
   */
  requestId?: string | undefined;
}

/** Fields to change: each one present is set (an empty value clears it) and named in the update mask. */
export type AgentChanges = Partial<Omit<AgentInput, "requestId">>;

export interface AgentFilter {
  status?: AgentStatus | undefined;
  /** A caller without platform:admin only ever sees its own owner's agents. */
  owner?: string | undefined;
  agentType?: string | undefined;
  /** Case-insensitive substring of the name. */
  search?: string | undefined;
  /** 1 to 100; the server's default is 20. */
  pageSize?: number | undefined;
}

/** A credential's metadata: never the secret. */
export interface Credential {
  credentialId: string;
  agentId: string;
  clientId: string;
  status: "active" | "revoked" | "expired";
  secretVersion: number;
  rotatedFrom: number;
  storage: string;
  createdAt?: Date;
  expiresAt?: Date;
  lastUsedAt?: Date;
  revokedAt?: Date;
  rotatedAt?: Date;
  previousSecretExpiresAt?: Date;
}

/** A credential with its secret, from `generate` and `rotate`: the only time the secret is shown. */
export interface IssuedCredential {
  credential: Credential;
  clientId: string;
  clientSecret: Secret;
}

/** An access token (RFC 6749 §5.1). */
export interface TokenResponse {
  accessToken: Secret;
  tokenType: string;
  /** Seconds. */
  expiresIn: number;
  scope: string;
}

/** What the server knows of a token (RFC 7662); only `active` for a token that is not active. */
export interface Introspection {
  active: boolean;
  scope?: string;
  /** The owner (tenant) of the token's agent. */
  owner?: string;
  clientId?: string;
  tokenType?: string;
  exp?: number;
  iat?: number;
  sub?: string;
  aud?: string[];
  iss?: string;
  jti?: string;
}

/** One entry of the audit log. */
export interface AuditEvent {
  eventId: string;
  actor: string;
  action: string;
  outcome: "success" | "failure" | "denied";
  target: string;
  agentId: string;
  requestId: string;
  sourceAddress: string;
  details: Record<string, string>;
  sequence: number;
  prevHash: string;
  hash: string;
  /** Whose log: the owner of the agent concerned; empty for platform events. */
  owner: string;
  occurredAt?: Date;
  recordedAt?: Date;
}

export interface AuditFilter {
  agentId?: string | undefined;
  action?: string | undefined;
  outcome?: "success" | "failure" | "denied" | undefined;
  actor?: string | undefined;
  /** A caller without platform:admin only ever reads its own owner's events. */
  owner?: string | undefined;
  /** Inclusive. */
  startTime?: Date | undefined;
  /** Exclusive. */
  endTime?: Date | undefined;
  /** 1 to 1000; the server's default is 50. */
  pageSize?: number | undefined;
}

/**
 * Where the audit chain stops proving the log intact. `kind` is
 * hash_mismatch, prev_hash_mismatch, missing_events or head_mismatch.
 */
export interface ChainBreak {
  sequence: number;
  eventId: string;
  kind: string;
  expected: string;
  actual: string;
}

/**
 * The result of `audit.verify`: the range of sequences checked and, when
 * `ok` is false, where the chain first broke (a result, not an error).
 */
export interface ChainVerification {
  ok: boolean;
  fromSequence: number;
  toSequence: number;
  eventsChecked: number;
  firstBreak?: ChainBreak;
  /** Signed checkpoints in the range whose signature held and whose head matched the recomputed chain. */
  checkpointsChecked: number;
  /** The newest sequence such a checkpoint covers (0: none); later events rest on the hash chain alone. */
  checkpointedThrough: number;
}

/**
 * A signed statement that the audit chain's event at `sequence` had `hash`,
 * and so every event before it was what the chain says (docs/audit.md,
 * "Signed checkpoints").
 */
export interface AuditCheckpoint {
  sequence: number;
  hash: string;
  /** Hex of the first 16 bytes of SHA-256 over the signing public key's PKIX DER. */
  keyId: string;
  /** ed25519 or ecdsa-p256-sha256. */
  algorithm: string;
  /** Standard base64. */
  signature: string;
  signedAt?: Date;
}

/** One page of a list; `nextPageToken` is empty on the last. */
export interface Page<T> {
  items: T[];
  nextPageToken: string;
}

// ── parsing (the API's JSON → models) ───────────────────────────────────────

type Json = Record<string, unknown>;

const str = (v: unknown): string => (typeof v === "string" ? v : "");
const int = (v: unknown): number => (typeof v === "number" ? v : typeof v === "string" && v !== "" ? Number(v) : 0);
const strs = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);
const map = (v: unknown): Record<string, string> =>
  isObject(v) ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, String(x)])) : {};

function time(v: unknown): Date | undefined {
  if (typeof v !== "string" || v === "") return undefined;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/** Sets optional properties only when present (exactOptionalPropertyTypes). */
function withTimes<T extends object>(obj: T, times: Record<string, Date | undefined>): T {
  for (const [k, v] of Object.entries(times)) if (v !== undefined) (obj as Json)[k] = v;
  return obj;
}

const obj = (v: unknown): Json => (isObject(v) ? v : {});

export function parseAgent(v: unknown): Agent {
  const d = obj(v);
  return withTimes<Agent>(
    {
      agentId: str(d["agentId"]), name: str(d["name"]), description: str(d["description"]),
      agentType: str(d["agentType"]), version: str(d["version"]), owner: str(d["owner"]),
      capabilities: strs(d["capabilities"]), scopes: strs(d["scopes"]), deploymentEnv: str(d["deploymentEnv"]),
      metadata: map(d["metadata"]), status: str(d["status"]) as AgentStatus, etag: str(d["etag"]),
    },
    {
      createdAt: time(d["createdAt"]), updatedAt: time(d["updatedAt"]), decommissionedAt: time(d["decommissionedAt"]),
      suspendedAt: time(d["suspendedAt"]),
    },
  );
}

export function parseCredential(v: unknown): Credential {
  const d = obj(v);
  return withTimes<Credential>(
    {
      credentialId: str(d["credentialId"]), agentId: str(d["agentId"]), clientId: str(d["clientId"]),
      status: str(d["status"]) as Credential["status"], secretVersion: int(d["secretVersion"]),
      rotatedFrom: int(d["rotatedFrom"]), storage: str(d["storage"]),
    },
    {
      createdAt: time(d["createdAt"]), expiresAt: time(d["expiresAt"]), lastUsedAt: time(d["lastUsedAt"]),
      revokedAt: time(d["revokedAt"]), rotatedAt: time(d["rotatedAt"]),
      previousSecretExpiresAt: time(d["previousSecretExpiresAt"]),
    },
  );
}

export function parseIssuedCredential(v: unknown): IssuedCredential {
  const d = obj(v);
  return {
    credential: parseCredential(d["credential"]), clientId: str(d["clientId"]),
    clientSecret: new Secret(str(d["clientSecret"])),
  };
}

export function parseTokenResponse(v: unknown): TokenResponse {
  const d = obj(v);
  return {
    accessToken: new Secret(str(d["access_token"])), tokenType: str(d["token_type"]),
    expiresIn: int(d["expires_in"]), scope: str(d["scope"]),
  };
}

export function parseIntrospection(v: unknown): Introspection {
  const d = obj(v);
  const out: Introspection = { active: d["active"] === true };
  if (!out.active) return out;
  const aud = d["aud"];
  return {
    ...out, scope: str(d["scope"]), owner: str(d["owner"]), clientId: str(d["client_id"]), tokenType: str(d["token_type"]),
    exp: int(d["exp"]), iat: int(d["iat"]), sub: str(d["sub"]), aud: typeof aud === "string" ? [aud] : strs(aud),
    iss: str(d["iss"]), jti: str(d["jti"]),
  };
}

export function parseAuditEvent(v: unknown): AuditEvent {
  const d = obj(v);
  return withTimes<AuditEvent>(
    {
      eventId: str(d["eventId"]), actor: str(d["actor"]), action: str(d["action"]),
      outcome: str(d["outcome"]) as AuditEvent["outcome"], target: str(d["target"]), agentId: str(d["agentId"]),
      requestId: str(d["requestId"]), sourceAddress: str(d["sourceAddress"]), details: map(d["details"]),
      sequence: int(d["sequence"]), prevHash: str(d["prevHash"]), hash: str(d["hash"]), owner: str(d["owner"]),
    },
    { occurredAt: time(d["occurredAt"]), recordedAt: time(d["recordedAt"]) },
  );
}

export function parseChainVerification(v: unknown): ChainVerification {
  const d = obj(v);
  const out: ChainVerification = {
    ok: d["ok"] === true, fromSequence: int(d["fromSequence"]), toSequence: int(d["toSequence"]),
    eventsChecked: int(d["eventsChecked"]), checkpointsChecked: int(d["checkpointsChecked"]),
    checkpointedThrough: int(d["checkpointedThrough"]),
  };
  if (isObject(d["firstBreak"])) {
    const b = d["firstBreak"];
    out.firstBreak = {
      sequence: int(b["sequence"]), eventId: str(b["eventId"]), kind: str(b["kind"]),
      expected: str(b["expected"]), actual: str(b["actual"]),
    };
  }
  return out;
}

export function parseAuditCheckpoint(v: unknown): AuditCheckpoint {
  const d = obj(v);
  return withTimes<AuditCheckpoint>(
    {
      sequence: int(d["sequence"]), hash: str(d["hash"]), keyId: str(d["keyId"]), algorithm: str(d["algorithm"]),
      signature: str(d["signature"]),
    },
    { signedAt: time(d["signedAt"]) },
  );
}

export function parsePage<T>(key: string, item: (v: unknown) => T): (v: unknown) => Page<T> {
  return (v) => {
    const d = obj(v);
    const items = Array.isArray(d[key]) ? (d[key] as unknown[]).map(item) : [];
    return { items, nextPageToken: str(d["nextPageToken"]) };
  };
}
