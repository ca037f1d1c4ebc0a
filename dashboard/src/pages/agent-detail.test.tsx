import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";

import { json } from "@/test/fake";
import { renderPage, SELF } from "@/test/page";

import { AgentDetailPage } from "./agent-detail";

const OTHER = "01900000-0000-7000-8000-0000000000b0";
const notFound = () => json(404, {
  code: 5, message: `agent ${OTHER} not found`,
  details: [{ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "AGENT_NOT_FOUND", domain: "agentidp.dev" }],
});
const agent = (id: string, scopes: string[]) => ({
  agentId: id, name: `agent-${id.slice(-2)}`, owner: "team-a", status: "active", scopes, suspendedAt: "2026-01-02T03:04:05Z",
});
const credentials = { credentials: [{ credentialId: "c1", agentId: OTHER, clientId: OTHER, status: "active", secretVersion: "1" }], nextPageToken: "" };

function open(id: string, scopes: string[], api: Parameters<typeof renderPage>[0]["api"]) {
  return renderPage({ path: `/agents/${id}`, route: "/agents/:agentId", element: <AgentDetailPage />, scopes, owner: "team-a", api });
}

describe("AgentDetailPage", () => {
  it("shows another owner's agent as not found, as one that does not exist", async () => {
    await open(OTHER, ["agents:read"], { [`GET /v1/agents/${OTHER}`]: notFound });
    expect(await screen.findByRole("heading", { name: "Agent not found", level: 1 })).toBeInTheDocument();
    expect(screen.getByTestId("agent-not-found")).toHaveTextContent(OTHER);
    expect(screen.queryByRole("button", { name: "Try again" })).toBeNull();
  });

  it("shows the owner and the last suspension", async () => {
    await open(OTHER, ["agents:read"], {
      [`GET /v1/agents/${OTHER}`]: () => json(200, agent(OTHER, ["agents:read"])),
      [`GET /v1/agents/${OTHER}/credentials`]: () => json(200, credentials),
    });
    expect(await screen.findByTestId("agent-owner")).toHaveTextContent("team-a");
    expect(screen.getByText("Last suspended")).toBeInTheDocument();
  });

  it("keeps an agent more powerful than the caller's token out of its reach", async () => {
    await open(OTHER, ["agents:read", "agents:write", "credentials:write"], {
      [`GET /v1/agents/${OTHER}`]: () => json(200, agent(OTHER, ["agents:read", "audit:read"])),
      [`GET /v1/agents/${OTHER}/credentials`]: () => json(200, credentials),
    });
    for (const id of ["edit-agent", "suspend-agent", "decommission-agent", "generate-credential", "rotate-credential", "revoke-credential"]) {
      const b = await screen.findByTestId(id);
      expect(b, id).toHaveAttribute("aria-disabled", "true");
      expect(b.getAttribute("data-disabled-reason"), id).toMatch(/audit:read.*platform admin/);
    }
  });

  it("lets a platform admin manage any agent", async () => {
    await open(OTHER, ["agents:read", "agents:write", "credentials:write", "platform:admin"], {
      [`GET /v1/agents/${OTHER}`]: () => json(200, agent(OTHER, ["agents:read", "audit:read"])),
      [`GET /v1/agents/${OTHER}/credentials`]: () => json(200, credentials),
    });
    for (const id of ["suspend-agent", "decommission-agent", "generate-credential", "rotate-credential", "revoke-credential"]) {
      expect(await screen.findByTestId(id), id).not.toHaveAttribute("aria-disabled");
    }
  });

  it("lets an agent rotate its own credential without credentials:write", async () => {
    await open(SELF, ["agents:read"], {
      [`GET /v1/agents/${SELF}`]: () => json(200, agent(SELF, ["agents:read"])),
      [`GET /v1/agents/${SELF}/credentials`]: () => json(200, { ...credentials, credentials: [{ ...credentials.credentials[0], agentId: SELF }] }),
    });
    expect(await screen.findByTestId("rotate-credential")).not.toHaveAttribute("aria-disabled");
    for (const id of ["edit-agent", "suspend-agent", "decommission-agent", "generate-credential", "revoke-credential"]) {
      expect(screen.getByTestId(id), id).toHaveAttribute("aria-disabled", "true");
    }
  });

  it("decommissions only once the agent's name is typed", async () => {
    const sent: string[] = [];
    await open(OTHER, ["agents:read", "agents:write"], {
      [`GET /v1/agents/${OTHER}`]: () => json(200, agent(OTHER, ["agents:read"])),
      [`GET /v1/agents/${OTHER}/credentials`]: () => json(200, credentials),
      [`DELETE /v1/agents/${OTHER}`]: (r) => {
        sent.push(r.method);
        return json(200, { ...agent(OTHER, ["agents:read"]), status: "decommissioned" });
      },
    });
    await userEvent.click(await screen.findByTestId("decommission-agent"));
    const confirm = screen.getByTestId("confirm-decommission");
    expect(confirm).toBeDisabled();
    const box = screen.getByLabelText("Type agent-b0 to confirm");
    await userEvent.type(box, "agent-b");
    expect(confirm).toBeDisabled();
    await userEvent.type(box, "0");
    await waitFor(() => expect(confirm).toBeEnabled());
    await userEvent.click(confirm);
    await waitFor(() => expect(sent).toEqual(["DELETE"]));
  });
});
