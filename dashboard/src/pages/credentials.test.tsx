import type { Agent } from "@sentryagent/idp-sdk";
import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";

import { json, type Recorded } from "@/test/fake";
import { expectFieldError, fieldViolation } from "@/test/form";
import { renderPage } from "@/test/page";

import { CredentialsCard } from "./credentials";

const ID = "01900000-0000-7000-8000-0000000000b0";
const agent: Agent = {
  agentId: ID, name: "bot", owner: "team-a", status: "active", scopes: [], capabilities: [], metadata: {}, description: "", agentType: "custom",
  version: "", deploymentEnv: "", etag: "1",
};
const credential = { credentialId: "c1", agentId: ID, clientId: ID, status: "active", secretVersion: "1" };
const issued = { credential: { ...credential, secretVersion: "2" }, clientId: ID, clientSecret: "agentidp_sk_x" };
const scopes = ["agents:read", "credentials:write"];

function open(answer?: (r: Recorded) => Response) {
  const sent: Recorded[] = [];
  const record = (r: Recorded) => {
    sent.push(r);
    return answer?.(r) ?? json(200, issued);
  };
  const gw = renderPage({
    path: "/", route: "/", element: <CredentialsCard agent={agent} />, scopes, owner: "team-a",
    api: {
      [`GET /v1/agents/${ID}/credentials`]: () => json(200, { credentials: [credential], nextPageToken: "" }),
      [`POST /v1/agents/${ID}/credentials`]: record,
      [`POST /v1/agents/${ID}/credentials/c1:rotate`]: record,
    },
  });
  return { gw, sent };
}

describe("CredentialsCard", () => {
  it("generates a credential with the lifetime chosen", async () => {
    const { gw, sent } = open();
    await gw;
    await userEvent.click(await screen.findByTestId("generate-credential"));
    await userEvent.selectOptions(screen.getByLabelText("Lifetime"), "30 days");
    await userEvent.click(screen.getByTestId("confirm-generate"));
    await waitFor(() => expect(sent).toHaveLength(1));
    expect(JSON.parse(sent[0]!.body)).toEqual({ ttlSeconds: 30 * 86_400 });
    expect(await screen.findByTestId("secret-dialog")).toBeInTheDocument();
  });

  it("checks the grace period as it is typed, and sends nothing until it is right", async () => {
    const { gw, sent } = open();
    await gw;
    await userEvent.click(await screen.findByTestId("rotate-credential"));
    const grace = screen.getByLabelText("Grace period (seconds)");
    expect(grace).toHaveValue("300");
    for (const wrong of ["90000", "-1", "1.5", "soon"]) {
      await userEvent.clear(grace);
      await userEvent.type(grace, wrong);
      await waitFor(() => expectFieldError("Grace period (seconds)", "A whole number of seconds from 0 to 86400."));
    }
    await userEvent.click(screen.getByTestId("confirm-rotate"));
    expect(grace).toHaveFocus();
    expect(sent).toHaveLength(0);
    await userEvent.clear(grace);
    await userEvent.type(grace, "60");
    await waitFor(() => expect(grace).not.toHaveAttribute("aria-invalid"));
    await userEvent.click(screen.getByTestId("confirm-rotate"));
    await waitFor(() => expect(sent).toHaveLength(1));
    expect(JSON.parse(sent[0]!.body)).toEqual({ gracePeriodSeconds: 60 });
  });

  it("puts the server's field violation on the grace period", async () => {
    const refusal = "gracePeriodSeconds must be at most 86400";
    const { gw, sent } = open(() => fieldViolation("gracePeriodSeconds", "GRACE_PERIOD_TOO_LONG", refusal));
    await gw;
    await userEvent.click(await screen.findByTestId("rotate-credential"));
    await userEvent.click(screen.getByTestId("confirm-rotate"));
    await waitFor(() => expect(sent).toHaveLength(1));
    await waitFor(() => expectFieldError("Grace period (seconds)", refusal));
  });
});
