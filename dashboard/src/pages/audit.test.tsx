import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";

import { json } from "@/test/fake";
import { expectFieldError, fieldViolation } from "@/test/form";
import { lastQuery, renderPage } from "@/test/page";

import { AuditPage } from "./audit";

const event = { eventId: "e1", actor: "a", action: "agent.registered", outcome: "success", owner: "team-a", sequence: "7", occurredAt: "2026-01-02T03:04:05Z" };

function open(path: string, scopes: string[], owner: string, events: () => Response = () => json(200, { events: [event], nextPageToken: "" })) {
  return renderPage({
    path, route: "/audit", element: <AuditPage />, scopes, owner,
    api: {
      "GET /v1/audit/events": events,
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

  it("checks the filters before they change the query", async () => {
    const gw = await open("/audit", ["audit:read"], "team-a");
    await screen.findByTestId("audit-table");
    const queries = () => gw.calls.filter((c) => c.path === "/v1/audit/events").length;
    const before = queries();
    await userEvent.type(screen.getByLabelText("Agent ID"), "bot");
    await userEvent.type(screen.getByLabelText("Action"), "Agent.Registered");
    await userEvent.type(screen.getByLabelText("From"), "2026-01-02T00:00");
    await userEvent.type(screen.getByLabelText("To (exclusive)"), "2026-01-01T00:00");
    await userEvent.click(screen.getByTestId("apply-filters"));
    expectFieldError("Agent ID", "Not an agent ID (a UUID).");
    expectFieldError("Action", "lower-case words joined by dots");
    expect(screen.getByLabelText("Agent ID")).toHaveFocus();
    await userEvent.clear(screen.getByLabelText("Agent ID"));
    await userEvent.clear(screen.getByLabelText("Action"));
    await userEvent.click(screen.getByTestId("apply-filters"));
    expectFieldError("From", "“From” must be before “To”.");
    expect(queries()).toBe(before);
  });

  it("shows why a link's filter is refused, and queries nothing", async () => {
    const gw = await open("/audit?agentId=bot", ["audit:read"], "team-a");
    await waitFor(() => expectFieldError("Agent ID", "Not an agent ID (a UUID)."));
    expect(gw.calls.some((c) => c.path === "/v1/audit/events")).toBe(false);
  });

  it("puts the service's refusal of a filter on that filter", async () => {
    const refusal = "actor is longer than 128 bytes";
    await open("/audit?actor=someone", ["audit:read"], "team-a", () => fieldViolation("actor", "FIELD_TOO_LONG", refusal));
    await waitFor(() => expectFieldError("Actor", refusal));
    expect(screen.queryByRole("alert")).toBeNull();
  });
});
