import { AgentIdPError } from "@sentryagent/idp-sdk";
import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import { ErrorState } from "./states";

describe("ErrorState", () => {
  it("shows a 403 as a clear permission message naming the scope", () => {
    const e = new AgentIdPError({ code: "INSUFFICIENT_SCOPE", message: "this request needs the scope audit:read", httpStatus: 403, requestId: "r-1" });
    render(<ErrorState error={e} requiredScope="audit:read" onRetry={() => {}} />);
    const alert = screen.getByRole("alert");
    expect(alert).toHaveTextContent("Permission denied");
    expect(alert).toHaveTextContent("it needs the audit:read scope");
    expect(alert).toHaveTextContent("INSUFFICIENT_SCOPE");
    expect(alert).toHaveTextContent("r-1");
    // Retrying cannot help a 403.
    expect(screen.queryByRole("button", { name: "Try again" })).toBeNull();
  });
  it("offers a retry for other failures", () => {
    render(<ErrorState error={new AgentIdPError({ code: "UNAVAILABLE", message: "x" })} onRetry={() => {}} />);
    expect(screen.getByRole("alert")).toHaveTextContent("The gateway did not answer");
    expect(screen.getByRole("button", { name: "Try again" })).toBeInTheDocument();
  });
});
