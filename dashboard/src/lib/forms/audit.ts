/**
 * The audit log's filter form: what the user types, checked by the audit
 * service's rules (lib/rules/audit) before the URL, and so the query,
 * changes.
 */
import * as z from "zod/mini";

import { fromLocalInput } from "@/lib/format";
import { auditFilterField, timeRange } from "@/lib/rules/audit";
import { trimSpace } from "@/lib/rules/rule";

export interface AuditFilterValues {
  agentId: string;
  action: string;
  outcome: string;
  actor: string;
  owner: string;
  /** datetime-local values, in the browser's time zone. */
  from: string;
  to: string;
}

export const AUDIT_FILTERS = ["agentId", "action", "outcome", "actor", "owner", "from", "to"] as const satisfies ReadonlyArray<keyof AuditFilterValues>;

const typed = z.string().check(z.overwrite(trimSpace));

export const auditFilterForm = z.object({
  agentId: z.pipe(typed, auditFilterField.agentId),
  action: z.pipe(typed, auditFilterField.action),
  outcome: auditFilterField.outcome,
  actor: z.pipe(typed, auditFilterField.actor),
  owner: z.pipe(typed, auditFilterField.owner),
  from: z.string(),
  to: z.string(),
}).check(z.superRefine((v, ctx) => {
  const bad = timeRange(fromLocalInput(v.from), fromLocalInput(v.to));
  if (bad) ctx.addIssue({ code: "custom", path: ["from"], message: bad.message, params: { reason: bad.reason }, input: v });
}));

/** The filters a URL holds (the owner only for a platform admin, whom alone the server lets choose one). */
export function auditFilterValues(params: URLSearchParams, platform: boolean): AuditFilterValues {
  const v = Object.fromEntries(AUDIT_FILTERS.map((k) => [k, params.get(k) ?? ""])) as unknown as AuditFilterValues;
  return platform ? v : { ...v, owner: "" };
}

const API_FIELDS: Record<string, keyof AuditFilterValues> = {
  agentId: "agentId", action: "action", outcome: "outcome", actor: "actor", owner: "owner", startTime: "from", endTime: "to",
};

/** The form field a server field path names. */
export function auditFormField(apiField: string): keyof AuditFilterValues | undefined {
  return API_FIELDS[apiField];
}
