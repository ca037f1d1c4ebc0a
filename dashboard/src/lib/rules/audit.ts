/**
 * The audit service's rules for a query's filters
 * (services/audit/internal/audit, Filter.checked and ParseAgentID).
 * Checked against the service: its testdata/rules.json, in rules.test.ts.
 */
import * as z from "zod/mini";

import { byteLength, INVALID, rule, storable, TOO_LONG, type Violation } from "./rule";

export const OUTCOMES = ["success", "failure", "denied"] as const;
const MAX_ACTOR = 128;
const MAX_OWNER = 256;
const MAX_ACTION = 64;
// auditlog.ValidAction: two or more lower-case words joined by dots.
const ACTION = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/;
// uuid.Parse, in its canonical 36-character form only.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const optionalIf = (check: (s: string) => Violation | undefined) => (s: string) => (s === "" ? undefined : check(s));

function text(max: number) {
  return (s: string): Violation | undefined => {
    if (byteLength(s) > max) return { reason: TOO_LONG, message: `At most ${max} bytes (this is ${byteLength(s)}).` };
    if (!storable(s)) return { reason: INVALID, message: "No NUL characters or broken text, please." };
    return undefined;
  };
}

export const auditFilterField = {
  agentId: z.string().check(rule(optionalIf((s) => (UUID.test(s) ? undefined : { reason: INVALID, message: "Not an agent ID (a UUID)." })))),
  action: z.string().check(rule(optionalIf((s) => (ACTION.test(s) && byteLength(s) <= MAX_ACTION ? undefined
    : { reason: INVALID, message: "An action looks like agent.registered: lower-case words joined by dots." })))),
  outcome: z.string().check(rule(optionalIf((s) => ((OUTCOMES as readonly string[]).includes(s) ? undefined
    : { reason: INVALID, message: "Success, failure or denied." })))),
  actor: z.string().check(rule(text(MAX_ACTOR))),
  owner: z.string().check(rule(text(MAX_OWNER))),
};

/** The time range's rule; the service blames the start. */
export function timeRange(start: Date | undefined, end: Date | undefined): Violation | undefined {
  return start && end && !(start < end) ? { reason: "INVALID_TIME_RANGE", message: "“From” must be before “To”." } : undefined;
}

/** GET /v1/audit/events: the SDK's AuditFilter (without pageSize). */
export const auditFilter = z.strictObject({
  agentId: z.optional(auditFilterField.agentId),
  action: z.optional(auditFilterField.action),
  outcome: z.optional(auditFilterField.outcome),
  actor: z.optional(auditFilterField.actor),
  owner: z.optional(auditFilterField.owner),
  startTime: z.optional(z.date()),
  endTime: z.optional(z.date()),
}).check(z.superRefine((f, ctx) => {
  const bad = timeRange(f.startTime, f.endTime);
  if (bad) ctx.addIssue({ code: "custom", path: ["startTime"], message: bad.message, params: { reason: bad.reason }, input: f });
}));
