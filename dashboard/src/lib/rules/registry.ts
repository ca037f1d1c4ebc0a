/**
 * The registry's rules for an agent's fields and for the agents list's
 * filters, as services/registry/internal/agent/validate.go and
 * service.go (Filter.checked) write them. The schemas take what the API
 * takes (the SDK's AgentInput and AgentFilter) and give it back normalized
 * as the registry stores it; the forms build on them (lib/forms).
 * Checked against the registry: its testdata/rules.json, in rules.test.ts.
 */
import * as z from "zod/mini";

import { byteLength, hasControl, INVALID, REQUIRED, rule, runeLength, storable, TOO_LONG, trimSpace, validUTF8, type Violation } from "./rule";

export const MAX_NAME = 128;
export const MAX_DESCRIPTION = 1024;
export const MAX_OWNER = 256;
export const MAX_LIST_VALUES = 64;
export const MAX_METADATA_ENTRIES = 32;
export const MAX_METADATA_VALUE = 256;
export const MAX_METADATA_BYTES = 4096;
const MAX_SEARCH = 128;
const TOO_MANY = "TOO_MANY_VALUES";
const METADATA_TOO_LARGE = "METADATA_TOO_LARGE";

const TYPE = /^[a-z][a-z0-9_-]{0,62}$/;
const ENV = /^[a-z][a-z0-9-]{0,31}$/;
const VERSION = /^[A-Za-z0-9][A-Za-z0-9.+_-]{0,63}$/;
// Scopes and capabilities: RFC 6749 scope-tokens in a conservative alphabet.
const TOKEN = /^[A-Za-z0-9][A-Za-z0-9_.:/*-]{0,127}$/;
const METADATA_KEY = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$/;
export const STATUSES = ["active", "suspended", "decommissioned"] as const;

const bad = (reason: string, message: string): Violation => ({ reason, message });
const quote = (s: string) => `“${s.length > 40 ? `${s.slice(0, 40)}…` : s}”`;

/** checkText: name, owner and description. */
function text(max: number, required: string | undefined) {
  return (s: string): Violation | undefined => {
    if (required && s === "") return bad(REQUIRED, required);
    if (!validUTF8(s)) return bad(INVALID, "Not valid text (a broken character).");
    if (runeLength(s) > max) return bad(TOO_LONG, `At most ${max} characters (this is ${runeLength(s)}).`);
    if (hasControl(s, "\n\t")) return bad(INVALID, "No control characters, please.");
    return undefined;
  };
}

function agentType(s: string): Violation | undefined {
  return TYPE.test(s) ? undefined : bad(INVALID, "1-63 lower-case letters, digits, - or _, starting with a letter.");
}

function tokens(what: string) {
  return (values: string[]): Violation | undefined => {
    if (values.length > MAX_LIST_VALUES) return bad(TOO_MANY, `At most ${MAX_LIST_VALUES} ${what} (these are ${values.length}).`);
    const wrong = values.find((v) => !TOKEN.test(v));
    if (wrong !== undefined) {
      return bad(INVALID, `${wrong === "" ? "An empty one" : quote(wrong)}: each is 1-128 letters, digits or _ . : / * -, starting with a letter or digit.`);
    }
    return undefined;
  };
}

function metadata(md: Record<string, string>): Violation | undefined {
  const entries = Object.entries(md);
  if (entries.length > MAX_METADATA_ENTRIES) return bad(METADATA_TOO_LARGE, `At most ${MAX_METADATA_ENTRIES} entries (these are ${entries.length}).`);
  let total = 0;
  for (const [k, v] of entries) {
    if (!METADATA_KEY.test(k)) return bad(INVALID, `Key ${quote(k)}: keys are 1-63 letters, digits or . _ / -, starting with a letter or digit.`);
    if (byteLength(v) > MAX_METADATA_VALUE) return bad(METADATA_TOO_LARGE, `The value of ${quote(k)} is ${byteLength(v)} bytes; values are at most ${MAX_METADATA_VALUE}.`);
    if (!storable(v)) return bad(INVALID, `The value of ${quote(k)} holds a NUL character or broken text.`);
    total += byteLength(k) + byteLength(v);
  }
  if (total > MAX_METADATA_BYTES) return bad(METADATA_TOO_LARGE, `${total} bytes in all; metadata is at most ${MAX_METADATA_BYTES} (4 KiB).`);
  return undefined;
}

/** normalize's dedupe: values trimmed, the first of equal ones kept. */
export function dedupe(values: string[]): string[] {
  return [...new Set(values.map(trimSpace))];
}

const trimmed = () => z.string().check(z.overwrite(trimSpace));
const tokenList = (what: string) => z.array(z.string()).check(z.overwrite(dedupe), rule(tokens(what)));
const optionalIf = (check: (s: string) => Violation | undefined) => (s: string) => (s === "" ? undefined : check(s));

/**
 * Each field as the registry checks it, by operation: registering fills
 * an empty owner with the caller's and an empty type with "custom"; an
 * update sets what it names, and neither may be empty then.
 */
export const agentField = {
  name: trimmed().check(rule(text(MAX_NAME, "A name is required."))),
  owner: {
    register: trimmed().check(rule(optionalIf(text(MAX_OWNER, undefined)))),
    update: trimmed().check(rule(text(MAX_OWNER, "An owner is required."))),
  },
  description: trimmed().check(rule(text(MAX_DESCRIPTION, undefined))),
  agentType: {
    register: z.string().check(rule(optionalIf(agentType))),
    update: z.string().check(rule(agentType)),
  },
  version: trimmed().check(rule(optionalIf((s) => (VERSION.test(s) ? undefined
    : bad(INVALID, "At most 64 letters, digits, . + - or _, starting with a letter or digit."))))),
  deploymentEnv: z.string().check(rule(optionalIf((s) => (ENV.test(s) ? undefined
    : bad(INVALID, "1-32 lower-case letters, digits or -, starting with a letter."))))),
  capabilities: tokenList("capabilities"),
  scopes: tokenList("scopes"),
  metadata: z.record(z.string(), z.string()).check(rule(metadata)),
};

/** POST /v1/agents: the SDK's AgentInput (without requestId). */
export const registerInput = z.strictObject({
  name: z.prefault(agentField.name, ""),
  owner: z.optional(agentField.owner.register),
  description: z.optional(agentField.description),
  agentType: z.optional(agentField.agentType.register),
  version: z.optional(agentField.version),
  deploymentEnv: z.optional(agentField.deploymentEnv),
  capabilities: z.optional(agentField.capabilities),
  scopes: z.optional(agentField.scopes),
  metadata: z.optional(agentField.metadata),
});

/** PATCH /v1/agents/{id}: the SDK's AgentChanges, each field named being set. */
export const agentChanges = z.strictObject({
  name: z.optional(agentField.name),
  owner: z.optional(agentField.owner.update),
  description: z.optional(agentField.description),
  agentType: z.optional(agentField.agentType.update),
  version: z.optional(agentField.version),
  deploymentEnv: z.optional(agentField.deploymentEnv),
  capabilities: z.optional(agentField.capabilities),
  scopes: z.optional(agentField.scopes),
  metadata: z.optional(agentField.metadata),
});

/** Owner and search filters: bytes, not characters, and text PostgreSQL can compare. */
function filterText(max: number) {
  return (s: string): Violation | undefined => {
    if (byteLength(s) > max) return bad(TOO_LONG, `At most ${max} bytes (this is ${byteLength(s)}).`);
    if (!storable(s)) return bad(INVALID, "No NUL characters or broken text, please.");
    return undefined;
  };
}

/** Each filter of GET /v1/agents as the registry checks it. */
export const agentFilterField = {
  status: z.string().check(rule(optionalIf((s) => ((STATUSES as readonly string[]).includes(s) ? undefined
    : bad(INVALID, "Active, suspended or decommissioned."))))),
  agentType: z.string().check(rule(optionalIf(agentType))),
  owner: z.string().check(rule(filterText(MAX_OWNER))),
  search: trimmed().check(rule(filterText(MAX_SEARCH))),
};

/** GET /v1/agents: the SDK's AgentFilter (without pageSize). */
export const agentFilter = z.strictObject({
  status: z.optional(agentFilterField.status),
  agentType: z.optional(agentFilterField.agentType),
  owner: z.optional(agentFilterField.owner),
  search: z.optional(agentFilterField.search),
});
