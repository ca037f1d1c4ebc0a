import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";

import { json, type Recorded } from "@/test/fake";
import { renderPage } from "@/test/page";

import { AgentNewPage } from "./agent-new";

function open(scopes: string[], owner: string) {
  const sent: Recorded[] = [];
  const gw = renderPage({
    path: "/agents/new", route: "/agents/new", element: <AgentNewPage />, scopes, owner,
    api: {
      "POST /v1/agents": (r) => {
        sent.push(r);
        return json(200, { agentId: "01900000-0000-7000-8000-0000000000c0", name: "bot", owner, status: "active" });
      },
    },
  });
  return { gw, sent };
}

describe("AgentNewPage", () => {
  it("registers for the caller's own owner, which it cannot change", async () => {
    const { gw, sent } = open(["agents:read", "agents:write"], "team-a");
    await gw;
    const box = await screen.findByLabelText("Owner");
    expect(box).toHaveValue("team-a");
    expect(box).toHaveAttribute("readonly");
    expect(screen.getByText(/only a platform admin registers agents for another owner/)).toBeInTheDocument();
    // Only scopes the caller holds can be granted; platform:admin is not one of them.
    expect(screen.getByRole("checkbox", { name: /platform:admin/ })).toBeDisabled();
    await userEvent.type(screen.getByLabelText(/^Name/), "bot");
    await userEvent.click(screen.getByRole("button", { name: "Register" }));
    await waitFor(() => expect(sent).toHaveLength(1));
    expect(JSON.parse(sent[0]!.body)).not.toHaveProperty("owner");
  });

  it("lets a platform admin name another owner", async () => {
    const { gw, sent } = open(["agents:read", "agents:write", "platform:admin"], "platform");
    await gw;
    const box = await screen.findByLabelText("Owner");
    expect(box).not.toHaveAttribute("readonly");
    expect(box).toHaveAttribute("placeholder", "platform (yours)");
    await userEvent.type(screen.getByLabelText(/^Name/), "bot");
    await userEvent.type(box, "team-b");
    await userEvent.click(screen.getByRole("button", { name: "Register" }));
    await waitFor(() => expect(sent).toHaveLength(1));
    expect(JSON.parse(sent[0]!.body)).toMatchObject({ name: "bot", owner: "team-b" });
  });
});
