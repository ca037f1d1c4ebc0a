/// <reference types="node" />
/**
 * The services' tables of validation cases (testdata/rules.json), read as
 * libs/testkit/rulecases reads them: the same expansions, the same
 * verdicts. Each service's Go test runs them through the service.
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export interface RuleCase {
  name: string;
  op: string;
  input: unknown;
  /** The API's field and reason; both absent for an accepted input. */
  field?: string;
  reason?: string;
}

/** A table by its path from the repository's root. */
export function loadRuleCases(path: string): RuleCase[] {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
  const raw = readFileSync(resolve(root, path), "utf8");
  const table = JSON.parse(raw) as { cases: RuleCase[] };
  return table.cases.map((c) => ({ ...c, input: expand(c.input) }));
}

const numbered = (prefix: string, n: number) => {
  const width = String(Math.max(n - 1, 0)).length;
  return Array.from({ length: n }, (_, i) => prefix + String(i).padStart(width, "0"));
};

function str(v: unknown): string {
  const s = expand(v);
  if (typeof s !== "string") throw new Error(`not a string: ${JSON.stringify(v)}`);
  return s;
}

/** The expansions of libs/testkit/rulecases ($repeat, $concat, $list, $map). */
export function expand(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(expand);
  if (v === null || typeof v !== "object") return v;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o).sort().join(",");
  if ("$repeat" in o) {
    if (keys !== "$repeat,$times") throw new Error(`$repeat takes $repeat and $times: ${keys}`);
    return str(o["$repeat"]).repeat(o["$times"] as number);
  }
  if ("$concat" in o) return (o["$concat"] as unknown[]).map(str).join("");
  if ("$list" in o) return numbered(str(o["$list"]), o["$count"] as number);
  if ("$map" in o) {
    const value = expand(o["$value"]);
    return Object.fromEntries(numbered(str(o["$map"]), o["$count"] as number).map((k) => [k, value]));
  }
  if (Object.keys(o).some((k) => k.startsWith("$"))) throw new Error(`unknown expansion: ${keys}`);
  return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, expand(x)]));
}
