import { screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import { json } from "@/test/fake";
import { lastQuery, renderPage } from "@/test/page";

import { AuditPage } from "./audit";

const event = { eventId: "e1", actor: "a", action: "agent.registered", outcome: "success", owner: "team-a", sequence: "7", occurredAt: "2026-01-02T03:04:05Z" };

function open(path: string, scopes: string[], owner: string) {
  return renderPage({
    path, route: "/audit", element: <AuditPage />, scopes, owner,
    api: {
      "GET /v1/audit/events": () => json(200, { events: [event], nextPageToken: "" }),
      "GET /v1/audit/verify": () => json(200, { ok: true, fromSequence: "1", toSequence: "7", eventsChecked: "7" }),
    },
  });
}

describe("AuditPage", () => {
  it("shows events' owner, and gates the chain's verification to platform admins", async () => {
    const gw = await open("/audit?owner=team-b", ["audit:read"], "team-a");
    const table = await screen.findByTestId("audit-table");
    expect(within(table).getByRole("columnheader", { name: "Owner" })).toBeInTheDocument();
    await waitFor(() => expect(table.querySelector("tr[data-owner='team-a']")).not.toBeNull());
    const status = screen.getByTestId("chain-status");
    expect(status).toHaveAttribute("data-state", "not-allowed");
    const verify = screen.getByTestId("verify-chain");
    expect(verify).toHaveAttribute("aria-disabled", "true");
    expect(verify.getAttribute("data-disabled-reason")).toContain("platform:admin");
    expect(gw.calls.some((c) => c.path === "/v1/audit/verify")).toBe(false);
    expect(screen.queryByLabelText("Owner")).toBeNull();
    expect(lastQuery(gw.calls, "GET", "/v1/audit/events")?.has("owner")).toBe(false);
  });

  it("verifies the chain and filters by owner for a platform admin", async () => {
    const gw = await open("/audit?owner=team-b", ["audit:read", "platform:admin"], "platform");
    expect(await screen.findByText("Chain intact")).toBeInTheDocument();
    expect(screen.getByLabelText("Owner")).toHaveValue("team-b");
    await waitFor(() => expect(lastQuery(gw.calls, "GET", "/v1/audit/events")?.get("owner")).toBe("team-b"));
  });
});
