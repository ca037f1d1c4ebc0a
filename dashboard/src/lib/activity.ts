/**
 * Tokens issued and denied over time, from the audit log: the token service
 * records token.issued and token.denied, the authz service authz.denied.
 * The dashboard counts them in time buckets; Prometheus is not needed (and
 * often not running).
 */
import type { AuditEvent } from "@sentryagent/idp-sdk";

export interface Range {
  key: "1h" | "24h" | "7d";
  label: string;
  spanMs: number;
  bucketMs: number;
}

export const RANGES: Range[] = [
  { key: "1h", label: "Last hour", spanMs: 3_600_000, bucketMs: 5 * 60_000 },
  { key: "24h", label: "Last 24 hours", spanMs: 86_400_000, bucketMs: 3_600_000 },
  { key: "7d", label: "Last 7 days", spanMs: 7 * 86_400_000, bucketMs: 86_400_000 },
];

export interface Bucket {
  start: Date;
  issued: number;
  denied: number;
}

export const ISSUED_ACTIONS = ["token.issued"];
export const DENIED_ACTIONS = ["token.denied", "authz.denied"];

/**
 * Counts events into consecutive buckets of range.bucketMs ending at the
 * bucket that holds `now`; events outside the window are ignored.
 */
export function bucketize(events: Iterable<Pick<AuditEvent, "action" | "occurredAt">>, range: Range, now: Date): Bucket[] {
  const end = Math.floor(now.getTime() / range.bucketMs) * range.bucketMs + range.bucketMs;
  const n = Math.round(range.spanMs / range.bucketMs);
  const start = end - n * range.bucketMs;
  const buckets: Bucket[] = Array.from({ length: n }, (_, i) => ({ start: new Date(start + i * range.bucketMs), issued: 0, denied: 0 }));
  for (const e of events) {
    const t = e.occurredAt?.getTime();
    if (t === undefined || t < start || t >= end) continue;
    const b = buckets[Math.floor((t - start) / range.bucketMs)];
    if (!b) continue;
    if (ISSUED_ACTIONS.includes(e.action)) b.issued++;
    else if (DENIED_ACTIONS.includes(e.action)) b.denied++;
  }
  return buckets;
}

/** The window's start for a query: the first bucket's start. */
export function windowStart(range: Range, now: Date): Date {
  const end = Math.floor(now.getTime() / range.bucketMs) * range.bucketMs + range.bucketMs;
  return new Date(end - Math.round(range.spanMs / range.bucketMs) * range.bucketMs);
}
