import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";

import { TooltipProvider } from "@/components/ui/tooltip";

import { GatedButton } from "./gated-button";

describe("GatedButton", () => {
  it("acts when allowed", async () => {
    const onClick = vi.fn();
    render(<TooltipProvider><GatedButton permission={{ allowed: true }} onClick={onClick}>Suspend</GatedButton></TooltipProvider>);
    await userEvent.click(screen.getByRole("button", { name: "Suspend" }));
    expect(onClick).toHaveBeenCalledOnce();
  });

  it("stays focusable but inert when not, and says why", async () => {
    const onClick = vi.fn();
    render(
      <TooltipProvider delayDuration={0}>
        <GatedButton permission={{ allowed: false, reason: "Needs the agents:write scope." }} onClick={onClick}>Suspend</GatedButton>
      </TooltipProvider>,
    );
    const b = screen.getByRole("button", { name: /Suspend/ });
    expect(b).toHaveAttribute("aria-disabled", "true");
    expect(b).not.toBeDisabled();
    expect(b).toHaveAccessibleDescription("Needs the agents:write scope.");
    await userEvent.click(b);
    expect(onClick).not.toHaveBeenCalled();
    await userEvent.tab();
    await userEvent.tab();
    expect(document.activeElement === b || b.contains(document.activeElement)).toBe(true);
  });
});
