/**
 * The generate and rotate forms of a credential: seconds as typed, checked
 * by the credentials service's rules (lib/rules/credentials).
 */
import * as z from "zod/mini";

import { gracePeriodSeconds, MAX_GRACE_SECONDS, ttlSeconds } from "@/lib/rules/credentials";
import { INVALID, rule, trimSpace } from "@/lib/rules/rule";

/** A whole number of seconds as typed (or chosen), as a number. */
function seconds(message: string) {
  return z.pipe(z.string().check(z.overwrite(trimSpace), rule((s) => (/^\d{1,15}$/.test(s) ? undefined : { reason: INVALID, message }))), z.transform(Number));
}

export const generateCredentialForm = z.object({
  ttlSeconds: z.pipe(seconds("Choose a lifetime."), ttlSeconds),
});

export const rotateCredentialForm = z.object({
  gracePeriodSeconds: z.pipe(seconds(`A whole number of seconds from 0 to ${MAX_GRACE_SECONDS}.`), gracePeriodSeconds),
});

/** The form field a server field path names. */
export function credentialFormField<K extends string>(...known: K[]) {
  return (apiField: string): K | undefined => known.find((k) => k === apiField);
}
