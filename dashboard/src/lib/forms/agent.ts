/**
 * The register and edit forms of an agent: what the user types (lists as
 * text, metadata as key=value lines) turned into the API's fields and
 * checked by the registry's rules (lib/rules/registry), so mistakes show
 * next to the field before a round trip. The server checks again and has
 * the last word; its field violations land on the same fields (agentFormField).
 */
import type { Agent, AgentChanges, AgentInput } from "@sentryagent/idp-sdk";
import * as z from "zod/mini";

import { agentField } from "@/lib/rules/registry";
import { rule, trimSpace } from "@/lib/rules/rule";

export interface AgentFormValues {
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

export const emptyAgentForm: AgentFormValues = {
  name: "", owner: "", agentType: "", version: "", deploymentEnv: "", description: "", capabilities: "", scopes: [], metadata: "",
};

/** The form's values for an existing agent (the edit form starts from them). */
export function agentFormValues(a: Agent): AgentFormValues {
  return {
    name: a.name, owner: a.owner, agentType: a.agentType, version: a.version, deploymentEnv: a.deploymentEnv, description: a.description,
    capabilities: a.capabilities.join(" "), scopes: [...a.scopes],
    metadata: Object.entries(a.metadata).map(([k, v]) => `${k}=${v}`).join("\n"),
  };
}

export function splitList(s: string): string[] {
  return s.split(/[\s,]+/).filter(Boolean);
}

const lines = (s: string) => s.split("\n").map(trimSpace).filter(Boolean);

/** The metadata text's own syntax; the values' limits are the registry's. */
function metadataSyntax(s: string) {
  const seen = new Set<string>();
  for (const [i, line] of lines(s).entries()) {
    const eq = line.indexOf("=");
    if (eq <= 0) return { reason: "SYNTAX", message: `Line ${i + 1}: write key=value.` };
    const k = trimSpace(line.slice(0, eq));
    if (seen.has(k)) return { reason: "SYNTAX", message: `Line ${i + 1}: the key “${k}” appears twice.` };
    seen.add(k);
  }
  return undefined;
}

export function parseMetadata(s: string): Record<string, string> {
  return Object.fromEntries(lines(s).map((line) => {
    const eq = line.indexOf("=");
    return [trimSpace(line.slice(0, eq)), trimSpace(line.slice(eq + 1))];
  }));
}

// What the user types around a value is not part of it: the form trims
// the fields the registry does not trim itself.
const typed = z.string().check(z.overwrite(trimSpace));
const capabilities = z.pipe(z.pipe(z.string(), z.transform(splitList)), agentField.capabilities);
const metadata = z.pipe(z.pipe(z.string().check(rule(metadataSyntax)), z.transform(parseMetadata)), agentField.metadata);

const fields = {
  name: agentField.name,
  version: agentField.version,
  deploymentEnv: z.pipe(typed, agentField.deploymentEnv),
  description: agentField.description,
  capabilities,
  scopes: agentField.scopes,
  metadata,
};

/** Registering: an empty owner is the caller's own, an empty type "custom". */
export const registerAgentForm = z.object({
  ...fields,
  owner: agentField.owner.register,
  agentType: z.pipe(typed, agentField.agentType.register),
});

/** Editing: every field is set, so owner and type may not be empty. */
export const editAgentForm = z.object({
  ...fields,
  owner: agentField.owner.update,
  agentType: z.pipe(typed, agentField.agentType.update),
});

export type RegisterAgentValues = z.output<typeof registerAgentForm>;
export type EditAgentValues = z.output<typeof editAgentForm>;

/** The SDK's input for a checked register form (empty optional fields left out). */
export function toAgentInput(v: RegisterAgentValues): AgentInput {
  const opt = (s: string) => (s === "" ? undefined : s);
  return {
    name: v.name, owner: opt(v.owner), agentType: opt(v.agentType), version: opt(v.version), deploymentEnv: opt(v.deploymentEnv),
    description: opt(v.description), capabilities: v.capabilities, scopes: v.scopes, metadata: v.metadata,
  };
}

const sameList = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);
const sameMap = (a: Record<string, string>, b: Record<string, string>) =>
  Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, v]) => b[k] === v);

/** What a checked edit form changes in `a`: only those fields are sent (the update mask). */
export function toAgentChanges(v: EditAgentValues, a: Agent): AgentChanges {
  const c: AgentChanges = {};
  for (const k of ["name", "owner", "agentType", "version", "deploymentEnv", "description"] as const) {
    if (v[k] !== a[k]) c[k] = v[k];
  }
  if (!sameList(v.capabilities, a.capabilities)) c.capabilities = v.capabilities;
  // The order of scopes means nothing; the registry keeps the order given.
  if (!sameList([...v.scopes].sort(), [...a.scopes].sort())) c.scopes = v.scopes;
  if (!sameMap(v.metadata, a.metadata)) c.metadata = v.metadata;
  return c;
}

const FIELDS: ReadonlyArray<keyof AgentFormValues> = ["name", "owner", "agentType", "version", "deploymentEnv", "description", "capabilities", "scopes", "metadata"];

/** The form field a server field path names (agent.name, agent.metadata.x, agent.scopes[2]). */
export function agentFormField(serverField: string | undefined): keyof AgentFormValues | undefined {
  const f = serverField?.replace(/^agent\./, "").split(/[.[]/)[0];
  return FIELDS.find((k) => k === f);
}
