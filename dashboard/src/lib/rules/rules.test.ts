/**
 * The dashboard's schemas against the services' own validation: every case
 * of each service's table (testdata/rules.json) must get here the verdict
 * the service's TestRuleCases gets there — accepted, or refused on the same
 * field with the same reason. A rule changed on one side only fails one of
 * the two tests.
 */
import type * as z from "zod/mini";
import { describe, expect, it } from "vitest";

import { loadRuleCases } from "@/test/rule-cases";

import { auditFilter } from "./audit";
import { generateInput, rotateInput } from "./credentials";
import { agentChanges, agentFilter, registerInput } from "./registry";
import { reasonOf } from "./rule";

interface Op {
  schema: z.ZodMiniType;
  /** How the API names a field of this schema (the registry nests an agent's under agent.). */
  prefix?: string;
  /** The input as the SDK would take it. */
  adapt?: (input: Record<string, unknown>) => Record<string, unknown>;
}

const dates = (input: Record<string, unknown>) => Object.fromEntries(Object.entries(input).map(([k, v]) =>
  [k, k === "startTime" || k === "endTime" ? new Date(v as string) : v]));

const tables: Record<string, Record<string, Op>> = {
  "services/registry/internal/agent/testdata/rules.json": {
    register: { schema: registerInput, prefix: "agent." },
    update: { schema: agentChanges, prefix: "agent." },
    list: { schema: agentFilter },
  },
  "services/credentials/internal/credential/testdata/rules.json": {
    generate: { schema: generateInput },
    rotate: { schema: rotateInput },
  },
  "services/audit/internal/audit/testdata/rules.json": {
    list: { schema: auditFilter, adapt: dates },
  },
};

for (const [path, ops] of Object.entries(tables)) {
  describe(path, () => {
    const cases = loadRuleCases(path);
    it("has cases, each of an operation with a schema", () => {
      expect(cases.length).toBeGreaterThan(0);
      expect(cases.filter((c) => !(c.op in ops)).map((c) => c.op)).toEqual([]);
    });
    for (const c of cases) {
      const op = ops[c.op];
      if (!op) continue;
      it(`${c.op}: ${c.name}`, () => {
        const input = c.input as Record<string, unknown>;
        const r = op.schema.safeParse(op.adapt ? op.adapt(input) : input);
        const got = r.success ? [] : r.error.issues.map((i) => ({ field: (op.prefix ?? "") + i.path.join("."), reason: reasonOf(i) }));
        expect(got).toEqual(c.field ? [{ field: c.field, reason: c.reason }] : []);
      });
    }
  });
}
