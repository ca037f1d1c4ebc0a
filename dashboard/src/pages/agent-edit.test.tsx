import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";

import { json, type Recorded } from "@/test/fake";
import { expectFieldError, fieldViolation } from "@/test/form";
import { renderPage, SELF } from "@/test/page";

import { AgentEditPage } from "./agent-edit";

const ID = "01900000-0000-7000-8000-0000000000b0";
const bot = {
  agentId: ID, name: "invoice-bot", owner: "team-a", status: "active", agentType: "assistant", version: "1.0.0", deploymentEnv: "",
  description: "Pays invoices.", capabilities: ["invoices.read"], scopes: ["agents:read"], metadata: { team: "finance" }, etag: "7",
};

function open(scopes: string[], answer?: (r: Recorded) => Response, agent: Record<string, unknown> = bot) {
  const sent: Recorded[] = [];
  const id = agent["agentId"] as string;
  const gw = renderPage({
    path: `/agents/${id}/edit`, route: "/agents/:agentId/edit", element: <AgentEditPage />, scopes, owner: "team-a",
    api: {
      [`GET /v1/agents/${id}`]: () => json(200, agent),
      [`PATCH /v1/agents/${id}`]: (r) => {
        sent.push(r);
        return answer?.(r) ?? json(200, { ...agent, ...(JSON.parse(r.body) as object), etag: "8" });
      },
    },
  });
  return { gw, sent };
}

const writer = ["agents:read", "agents:write"];

describe("AgentEditPage", () => {
  it("starts from the agent and sends only what changed, conditional on its etag", async () => {
    const { gw, sent } = open(writer);
    await gw;
    const description = await screen.findByLabelText("Description");
    expect(description).toHaveValue("Pays invoices.");
    expect(screen.getByLabelText("Capabilities")).toHaveValue("invoices.read");
    expect(screen.getByLabelText("Metadata")).toHaveValue("team=finance");
    expect(screen.getByLabelText("Owner")).toHaveAttribute("readonly");
    await userEvent.clear(description);
    await userEvent.type(description, "Pays and files invoices.");
    await userEvent.type(screen.getByLabelText("Metadata"), "{enter}cost-center=42");
    await userEvent.click(screen.getByRole("button", { name: "Save" }));
    await waitFor(() => expect(sent).toHaveLength(1));
    expect(new URL(sent[0]!.url).searchParams.get("updateMask")).toBe("description,metadata");
    expect(JSON.parse(sent[0]!.body)).toEqual({ description: "Pays and files invoices.", metadata: { team: "finance", "cost-center": "42" }, etag: "7" });
  });

  it("shows each mistake on its field and sends nothing", async () => {
    const { gw, sent } = open(writer);
    await gw;
    await userEvent.clear(await screen.findByLabelText(/^Name/));
    await userEvent.clear(screen.getByLabelText("Type"));
    await userEvent.type(screen.getByLabelText("Deployment environment"), "Prod");
    await userEvent.click(screen.getByRole("button", { name: "Save" }));
    expectFieldError(/^Name/, "A name is required.");
    expectFieldError("Type", "1-63 lower-case letters");
    expectFieldError("Deployment environment", "1-32 lower-case letters");
    expect(screen.getByLabelText(/^Name/)).toHaveFocus();
    expect(sent).toHaveLength(0);
  });

  it("puts the server's field violation on its field", async () => {
    const refusal = "agent.name is 130 characters long; the maximum is 128";
    const { gw, sent } = open(writer, () => fieldViolation("agent.name", "FIELD_TOO_LONG", refusal));
    await gw;
    await userEvent.type(await screen.findByLabelText(/^Name/), "-2");
    await userEvent.click(screen.getByRole("button", { name: "Save" }));
    await waitFor(() => expect(sent).toHaveLength(1));
    await waitFor(() => expectFieldError(/^Name/, refusal));
  });

  it("says so when the agent changed meanwhile", async () => {
    const { gw } = open(writer, () => json(409, {
      code: 10, message: "the agent changed since it was read; fetch it again and retry with the new etag",
      details: [{ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "ETAG_MISMATCH", domain: "agentidp.dev" }],
    }));
    await gw;
    await userEvent.type(await screen.findByLabelText("Version"), ".1");
    await userEvent.click(screen.getByRole("button", { name: "Save" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("the agent changed since it was read");
  });

  it("does not offer to edit the agent the caller is signed in as", async () => {
    const { gw } = open(writer, undefined, { ...bot, agentId: SELF });
    await gw;
    expect(await screen.findByText("You cannot change the agent you are signed in as.")).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Save" })).toBeNull();
  });
});
