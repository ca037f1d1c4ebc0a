import { screen } from "@testing-library/react";
import { expect } from "vitest";

import { json } from "./fake";

/** Asserts that the control labelled `label` is invalid and described by `message`. */
export function expectFieldError(label: string | RegExp, message: string | RegExp) {
  const control = screen.getByLabelText(label);
  expect(control).toHaveAttribute("aria-invalid", "true");
  expect(control).toHaveAccessibleDescription(typeof message === "string" ? expect.stringContaining(message) : expect.stringMatching(message));
}

/** The 400 a service answers for a refused field: google.rpc.Status with ErrorInfo and BadRequest, as the gateway transcodes it. */
export function fieldViolation(field: string, reason: string, description: string): Response {
  return json(400, {
    code: 3, message: description, details: [
      { "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason, domain: "agentidp.dev", metadata: { field } },
      { "@type": "type.googleapis.com/google.rpc.BadRequest", fieldViolations: [{ field, description, reason }] },
    ],
  });
}
