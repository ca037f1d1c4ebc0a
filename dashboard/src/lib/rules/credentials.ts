/**
 * The credentials service's rules for a credential's lifetime and a
 * rotation's grace period (services/credentials/internal/credential,
 * MaxTTL and MaxGracePeriod). Checked against the service: its
 * testdata/rules.json, in rules.test.ts.
 */
import * as z from "zod/mini";

import { INVALID, rule } from "./rule";

/** Ten years of 365 days, in seconds; 0 is no expiry. */
export const MAX_TTL_SECONDS = 10 * 365 * 24 * 3600;
/** One day, in seconds. */
export const MAX_GRACE_SECONDS = 86_400;

const whole = (n: number) => Number.isSafeInteger(n);

export const ttlSeconds = z.number().check(rule((n) => (whole(n) && n >= 0 && n <= MAX_TTL_SECONDS ? undefined
  : { reason: INVALID, message: `A whole number of seconds from 0 (no expiry) to ${MAX_TTL_SECONDS} (ten years).` })));

export const gracePeriodSeconds = z.number().check(rule((n) => {
  const message = `A whole number of seconds from 0 to ${MAX_GRACE_SECONDS}.`;
  if (!whole(n) || n < 0) return { reason: INVALID, message };
  if (n > MAX_GRACE_SECONDS) return { reason: "GRACE_PERIOD_TOO_LONG", message };
  return undefined;
}));

/** POST /v1/agents/{id}/credentials. */
export const generateInput = z.strictObject({ ttlSeconds: z.optional(ttlSeconds) });

/** POST /v1/agents/{id}/credentials/{id}:rotate. */
export const rotateInput = z.strictObject({ gracePeriodSeconds: z.optional(gracePeriodSeconds) });
