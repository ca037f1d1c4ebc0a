import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter, Route, Routes } from "react-router";
import { describe, expect, it } from "vitest";

import { SessionProvider } from "@/hooks/session";
import { SessionManager } from "@/lib/session";
import { fakeFetch, json, tokenResponse } from "@/test/fake";
import { expectFieldError } from "@/test/form";

import { LoginPage } from "./login";

function setup() {
  const gw = fakeFetch({
    "POST /oauth2/token": (r) =>
      r.headers.get("authorization") === `Basic ${btoa("agent-1:s3cret")}`
        ? tokenResponse(["agents:read"])
        : json(401, { error: "invalid_client", error_description: "client authentication failed" }),
  });
  const manager = new SessionManager({ baseUrl: "http://gw.test", fetch: gw.fetch });
  render(
    <SessionProvider manager={manager} baseUrl="http://gw.test">
      <MemoryRouter initialEntries={["/login"]}>
        <Routes>
          <Route path="/login" element={<LoginPage />} />
          <Route path="/" element={<h1>Home</h1>} />
        </Routes>
      </MemoryRouter>
    </SessionProvider>,
  );
  return { manager, gw };
}

describe("LoginPage", () => {
  it("asks for both fields, next to each, before calling anything", async () => {
    const { gw } = setup();
    await userEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expectFieldError("Client ID", "Enter the agent's client ID.");
    expectFieldError("Client secret", "Enter the agent's client secret.");
    expect(screen.getByLabelText("Client ID")).toHaveFocus();
    await userEvent.type(screen.getByLabelText("Client ID"), "  ");
    await userEvent.type(screen.getByLabelText("Client secret"), "s3cret");
    await userEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expectFieldError("Client ID", "Enter the agent's client ID.");
    expect(gw.calls).toHaveLength(0);
  });

  it("explains a refused credential", async () => {
    setup();
    await userEvent.type(screen.getByLabelText("Client ID"), "agent-1");
    await userEvent.type(screen.getByLabelText("Client secret"), "wrong");
    await userEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("The client ID or secret is wrong, or the agent is not active.");
    expect(screen.getByLabelText("Client ID")).not.toHaveAttribute("aria-invalid");
  });

  it("signs in and goes on", async () => {
    const { manager } = setup();
    await userEvent.type(screen.getByLabelText("Client ID"), "agent-1");
    await userEvent.type(screen.getByLabelText("Client secret"), "s3cret");
    await userEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByRole("heading", { name: "Home" })).toBeInTheDocument();
    expect(manager.current?.clientId).toBe("agent-1");
  });
});
