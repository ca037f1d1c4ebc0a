import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";

import { json } from "@/test/fake";
import { expectFieldError, fieldViolation } from "@/test/form";
import { lastQuery, renderPage, SELF } from "@/test/page";

import { AgentsPage } from "./agents";

const agent = (id: string, name: string, owner: string) => ({ agentId: id, name, owner, status: "active", scopes: ["agents:read"] });

function open(path: string, scopes: string[], owner: string | undefined, extra = {}) {
  return renderPage({
    path, route: "/agents", element: <AgentsPage />, scopes, owner,
    api: {
      "GET /v1/agents": () => json(200, { agents: [agent(SELF, "me", "team-a"), agent("01900000-0000-7000-8000-000000000002", "peer", "team-a")], nextPageToken: "" }),
      ...extra,
    },
  });
}

describe("AgentsPage", () => {
  it("shows an agent its own owner, fixed, and never asks for another", async () => {
    const gw = await open("/agents?owner=team-b", ["agents:read"], "team-a");
    expect(await within(await screen.findByTestId("agents-table")).findByText("peer")).toBeInTheDocument();
    const box = screen.getByLabelText("Owner");
    expect(box).toHaveValue("team-a");
    expect(box).toHaveAttribute("readonly");
    expect(screen.getByText(/The agents of your owner/)).toHaveTextContent("team-a");
    expect(lastQuery(gw.calls, "GET", "/v1/agents")?.has("owner")).toBe(false);
    expect(screen.getByTestId("register-agent")).toHaveAttribute("aria-disabled", "true");
  });

  it("lets a platform admin filter by any owner", async () => {
    const gw = await open("/agents?owner=team-b", ["agents:read", "platform:admin"], "platform");
    await screen.findByTestId("agents-table");
    const box = screen.getByLabelText("Owner");
    expect(box).not.toHaveAttribute("readonly");
    expect(box).toHaveValue("team-b");
    expect(screen.getByText(/Every owner's agents/)).toBeInTheDocument();
    await waitFor(() => expect(lastQuery(gw.calls, "GET", "/v1/agents")?.get("owner")).toBe("team-b"));
  });

  it("reads the owner from the agent's own record when the token has no owner claim", async () => {
    await open("/agents", ["agents:read"], undefined, {
      [`GET /v1/agents/${SELF}`]: () => json(200, agent(SELF, "me", "team-z")),
    });
    await waitFor(() => expect(screen.getByLabelText("Owner")).toHaveValue("team-z"));
  });

  it("checks a filter before it changes the query", async () => {
    const gw = await open("/agents", ["agents:read", "platform:admin"], "platform");
    await screen.findByTestId("agents-table");
    await userEvent.type(screen.getByLabelText("Type"), "Assistant{enter}");
    expectFieldError("Type", "1-63 lower-case letters");
    await userEvent.type(screen.getByLabelText("Owner"), "team-b{enter}");
    await new Promise((r) => setTimeout(r, 50));
    expect(gw.calls.some((c) => c.path === "/v1/agents" && new URL(c.url).searchParams.has("agentType"))).toBe(false);
    await userEvent.clear(screen.getByLabelText("Type"));
    await userEvent.type(screen.getByLabelText("Type"), "assistant{enter}");
    await waitFor(() => expect(lastQuery(gw.calls, "GET", "/v1/agents")?.get("agentType")).toBe("assistant"));
    expect(lastQuery(gw.calls, "GET", "/v1/agents")?.get("owner")).toBe("team-b");
  });

  it("shows why a link's filter is refused, and queries nothing", async () => {
    const gw = await open("/agents?type=Bad", ["agents:read"], "team-a");
    await waitFor(() => expectFieldError("Type", "1-63 lower-case letters"));
    expect(gw.calls.some((c) => c.path === "/v1/agents")).toBe(false);
  });

  it("puts the registry's refusal of a filter on that filter", async () => {
    const refusal = "search is longer than 128 bytes";
    await open("/agents?search=bot", ["agents:read"], "team-a", { "GET /v1/agents": () => fieldViolation("search", "FIELD_TOO_LONG", refusal) });
    await waitFor(() => expectFieldError("Name", refusal));
    expect(screen.queryByRole("alert")).toBeNull();
  });
});
