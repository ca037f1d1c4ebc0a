/**
 * What the services' validation rules are made of, as the Go code measures
 * text: trimming as strings.TrimSpace, lengths in characters (runes) or in
 * UTF-8 bytes, control characters as unicode.IsControl. The rules in this
 * folder are checked against the services' own: every case of their
 * testdata/rules.json tables must get the same verdict here
 * (rules.test.ts) as there (each service's TestRuleCases).
 */
import * as z from "zod/mini";

/** A refusal: the API's reason code and a message for the form. */
export interface Violation {
  reason: string;
  message: string;
}

/** The reasons the services give (google.rpc.ErrorInfo reason). */
export const REQUIRED = "FIELD_REQUIRED";
export const TOO_LONG = "FIELD_TOO_LONG";
export const INVALID = "FIELD_INVALID";

/**
 * A zod check from a rule: refuses with the rule's message and keeps its
 * reason in the issue's params (reasonOf reads it back).
 */
export function rule<T>(check: (v: T) => Violation | undefined) {
  return z.superRefine<T>((v, ctx) => {
    const bad = check(v);
    if (bad) ctx.addIssue({ code: "custom", message: bad.message, params: { reason: bad.reason }, input: v });
  });
}

/** The reason a rule gave an issue; undefined for zod's own (a wrong type). */
export function reasonOf(issue: z.core.$ZodIssue): string | undefined {
  const params = (issue as { params?: { reason?: unknown } }).params;
  return typeof params?.reason === "string" ? params.reason : undefined;
}

// Go's unicode.IsSpace: JavaScript's trim() also strips U+FEFF (which Go
// keeps) and keeps U+0085 (which Go strips).
const SPACE = "\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const EDGES = new RegExp(`^[${SPACE}]+|[${SPACE}]+$`, "g");

/** strings.TrimSpace. */
export function trimSpace(s: string): string {
  return s.replace(EDGES, "");
}

/** utf8.RuneCountInString: characters, not UTF-16 units. */
export function runeLength(s: string): number {
  return Array.from(s).length;
}

const encoder = new TextEncoder();

/** len(s) in Go: UTF-8 bytes. */
export function byteLength(s: string): number {
  return encoder.encode(s).length;
}

// A lone surrogate cannot be encoded as UTF-8 (the wire would carry U+FFFD).
const LONE_SURROGATE = /\p{Cs}/u;

/** utf8.ValidString for text that has come from UTF-16. */
export function validUTF8(s: string): boolean {
  return !LONE_SURROGATE.test(s);
}

/** Whether s holds a control character (unicode.IsControl: Cc) other than the allowed ones. */
export function hasControl(s: string, allowed = ""): boolean {
  for (const c of s) {
    if (/\p{Cc}/u.test(c) && !allowed.includes(c)) return true;
  }
  return false;
}

/** UTF-8 without NUL: what PostgreSQL text can hold. */
export function storable(s: string): boolean {
  return validUTF8(s) && !s.includes("\0");
}
