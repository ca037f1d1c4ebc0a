import type { FieldPath, FieldValues, UseFormSetError } from "react-hook-form";

import { fieldViolations } from "@/lib/errors";

/**
 * Puts the server's field violations (google.rpc.BadRequest) on the form's
 * fields, focusing the first, as the form's own checks would. `fieldOf`
 * maps the API's field path to the form's field. Says whether any landed;
 * if none did, the caller shows the error as a whole.
 */
export function showFieldViolations<T extends FieldValues>(
  setError: UseFormSetError<T>, err: unknown, fieldOf: (apiField: string) => FieldPath<T> | undefined,
): boolean {
  let landed = false;
  for (const v of fieldViolations(err)) {
    const name = fieldOf(v.field);
    if (!name) continue;
    setError(name, { type: "server", message: v.description }, { shouldFocus: !landed });
    landed = true;
  }
  return landed;
}
