/**
 * Client-side checks of the register form: the registry's limits
 * (docs/architecture.md, "Agents"), so mistakes show next to the field
 * before a round trip. The server checks again and has the last word.
 */
import type { AgentInput } from "@sentryagent/idp-sdk";

export interface AgentForm {
  name: string;
  owner: string;
  agentType: string;
  version: string;
  deploymentEnv: string;
  description: string;
  /** Space- or comma-separated. */
  capabilities: string;
  scopes: string[];
  /** One `key=value` per line. */
  metadata: string;
}

export const emptyAgentForm: AgentForm = {
  name: "", owner: "", agentType: "", version: "", deploymentEnv: "", description: "", capabilities: "", scopes: [], metadata: "",
};

export type FieldErrors = Partial<Record<keyof AgentForm, string>>;

// The registry's patterns (services/registry/internal/agent/validate.go).
const TOKEN = /^[A-Za-z0-9][A-Za-z0-9_.:/*-]{0,127}$/;
const TYPE = /^[a-z][a-z0-9_-]{0,62}$/;
const ENV = /^[a-z][a-z0-9-]{0,31}$/;
const VERSION = /^[A-Za-z0-9][A-Za-z0-9.+_-]{0,63}$/;
const METADATA_KEY = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$/;
const utf8 = (s: string) => new TextEncoder().encode(s).length;

export function splitList(s: string): string[] {
  return s.split(/[\s,]+/).map((x) => x.trim()).filter(Boolean);
}

export function parseMetadata(s: string): { entries: Record<string, string>; error?: string } {
  const entries: Record<string, string> = {};
  const lines = s.split("\n").map((l) => l.trim()).filter(Boolean);
  for (const [i, line] of lines.entries()) {
    const eq = line.indexOf("=");
    if (eq <= 0) return { entries, error: `Line ${i + 1}: write key=value.` };
    const k = line.slice(0, eq).trim();
    const v = line.slice(eq + 1).trim();
    if (!METADATA_KEY.test(k)) return { entries, error: `Line ${i + 1}: keys are 1-63 letters, digits or . _ / - and start with a letter or digit.` };
    if (k in entries) return { entries, error: `Line ${i + 1}: the key “${k}” appears twice.` };
    if (utf8(v) > 256) return { entries, error: `Line ${i + 1}: values are at most 256 bytes.` };
    entries[k] = v;
  }
  if (Object.keys(entries).length > 32) return { entries, error: "At most 32 entries." };
  const total = Object.entries(entries).reduce((n, [k, v]) => n + utf8(k) + utf8(v), 0);
  if (total > 4096) return { entries, error: "At most 4 KiB in all." };
  return { entries };
}

/** The form's errors by field; empty when it can be sent. */
export function validateAgentForm(f: AgentForm): FieldErrors {
  const e: FieldErrors = {};
  const name = f.name.trim();
  if (!name) e.name = "A name is required.";
  else if ([...name].length > 128) e.name = "At most 128 characters.";
  // No owner: the server gives the agent the caller's own.
  if ([...f.owner.trim()].length > 256) e.owner = "At most 256 characters.";
  if ([...f.description.trim()].length > 1024) e.description = "At most 1024 characters.";
  const type = f.agentType.trim();
  if (type && !TYPE.test(type)) e.agentType = "1-63 lower-case letters, digits, - or _, starting with a letter.";
  const version = f.version.trim();
  if (version && !VERSION.test(version)) e.version = "At most 64 letters, digits, . + - or _.";
  const env = f.deploymentEnv.trim();
  if (env && !ENV.test(env)) e.deploymentEnv = "1-32 lower-case letters, digits or -, starting with a letter.";
  const caps = splitList(f.capabilities);
  if (caps.length > 64) e.capabilities = "At most 64 capabilities.";
  else if (caps.some((c) => !TOKEN.test(c))) e.capabilities = "Each is 1-128 letters, digits or _ . : / * - (starting with a letter or digit), separated by spaces or commas.";
  if (f.scopes.length > 64) e.scopes = "At most 64 scopes.";
  const md = parseMetadata(f.metadata);
  if (md.error) e.metadata = md.error;
  return e;
}

/** The SDK input for a valid form (empty optional fields left out). */
export function toAgentInput(f: AgentForm): AgentInput {
  const opt = (s: string) => (s.trim() === "" ? undefined : s.trim());
  return {
    name: f.name.trim(), owner: opt(f.owner), agentType: opt(f.agentType), version: opt(f.version),
    deploymentEnv: opt(f.deploymentEnv), description: opt(f.description), capabilities: splitList(f.capabilities),
    scopes: [...f.scopes], metadata: parseMetadata(f.metadata).entries,
  };
}

/** Maps a server field path (agent.name, agent.metadata.x) to a form field. */
export function formFieldOf(serverField: string | undefined): keyof AgentForm | undefined {
  if (!serverField) return undefined;
  const f = serverField.replace(/^agent\./, "").split(/[.[]/)[0];
  const known: Array<keyof AgentForm> = ["name", "owner", "agentType", "version", "deploymentEnv", "description", "capabilities", "scopes", "metadata"];
  return known.find((k) => k === f);
}
