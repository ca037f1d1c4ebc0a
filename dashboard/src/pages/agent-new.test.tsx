import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";

import { json, type Recorded } from "@/test/fake";
import { expectFieldError, fieldViolation } from "@/test/form";
import { renderPage } from "@/test/page";

import { AgentNewPage } from "./agent-new";

function open(scopes: string[], owner: string, answer?: () => Response) {
  const sent: Recorded[] = [];
  const gw = renderPage({
    path: "/agents/new", route: "/agents/new", element: <AgentNewPage />, scopes, owner,
    api: {
      "POST /v1/agents": (r) => {
        sent.push(r);
        return answer?.() ?? json(200, { agentId: "01900000-0000-7000-8000-0000000000c0", name: "bot", owner, status: "active" });
      },
    },
  });
  return { gw, sent };
}

const admin = ["agents:read", "agents:write", "platform:admin"];

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
    const { gw, sent } = open(admin, "platform");
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

  it("shows each mistake on its field, focuses the first, and sends nothing", async () => {
    const { gw, sent } = open(admin, "platform");
    await gw;
    await userEvent.type(await screen.findByLabelText("Type"), "Not Valid");
    await userEvent.type(screen.getByLabelText("Capabilities"), "web.search bad!");
    await userEvent.type(screen.getByLabelText("Metadata"), "just-a-key");
    await userEvent.click(screen.getByRole("button", { name: "Register" }));
    expectFieldError(/^Name/, "A name is required.");
    expect(screen.getByLabelText(/^Name/)).toHaveFocus();
    expectFieldError("Type", "1-63 lower-case letters");
    expectFieldError("Capabilities", "“bad!”: each is 1-128 letters");
    expectFieldError("Metadata", "Line 1: write key=value.");
    // Valid fields say nothing and stay valid.
    expect(screen.getByLabelText("Version")).not.toHaveAttribute("aria-invalid");
    // Fixing a field clears its message as you type.
    await userEvent.type(screen.getByLabelText(/^Name/), "bot");
    expect(screen.getByLabelText(/^Name/)).not.toHaveAttribute("aria-invalid");
    expect(screen.queryByText("A name is required.")).toBeNull();
    expect(sent).toHaveLength(0);
  });

  it("sends what it checked, as the registry stores it", async () => {
    const { gw, sent } = open(admin, "platform");
    await gw;
    await userEvent.type(await screen.findByLabelText(/^Name/), "  bot  ");
    await userEvent.type(screen.getByLabelText("Type"), " assistant ");
    await userEvent.type(screen.getByLabelText("Capabilities"), "a, b a");
    await userEvent.click(screen.getByRole("checkbox", { name: /agents:read/ }));
    await userEvent.type(screen.getByLabelText("Metadata"), "team = e2e{enter}{enter}url=https://x/?a=b");
    await userEvent.click(screen.getByRole("button", { name: "Register" }));
    await waitFor(() => expect(sent).toHaveLength(1));
    expect(JSON.parse(sent[0]!.body)).toEqual({
      name: "bot", agentType: "assistant", capabilities: ["a", "b"], scopes: ["agents:read"], metadata: { team: "e2e", url: "https://x/?a=b" },
    });
  });

  it("puts the server's field violation on its field", async () => {
    const refusal = "agent.metadata: the value of \"k\" must be UTF-8 without NUL characters";
    const { gw, sent } = open(admin, "platform", () => fieldViolation("agent.metadata", "FIELD_INVALID", refusal));
    await gw;
    await userEvent.type(await screen.findByLabelText(/^Name/), "bot");
    await userEvent.type(screen.getByLabelText("Metadata"), "k=v");
    await userEvent.click(screen.getByRole("button", { name: "Register" }));
    await waitFor(() => expect(sent).toHaveLength(1));
    await waitFor(() => expectFieldError("Metadata", refusal));
    expect(screen.getByLabelText("Metadata")).toHaveFocus();
    expect(screen.queryByRole("alert")).toBeNull();
  });

  it("shows a refusal about no field as a whole", async () => {
    const { gw } = open(admin, "platform", () => json(403, {
      code: 7, message: "cannot grant scopes the caller does not hold: audit:read",
      details: [{ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "SCOPE_ESCALATION", metadata: {} }],
    }));
    await gw;
    await userEvent.type(await screen.findByLabelText(/^Name/), "bot");
    await userEvent.click(screen.getByRole("button", { name: "Register" }));
    expect(await screen.findByText(/cannot grant scopes the caller does not hold/)).toBeInTheDocument();
    expect(screen.getByLabelText(/^Name/)).not.toHaveAttribute("aria-invalid");
  });
});
