import { Secret, type IssuedCredential } from "@sentryagent/idp-sdk";
import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";

import { SecretDialog } from "./secret-dialog";

const issued: IssuedCredential = {
  clientId: "agent-1",
  clientSecret: new Secret("agentidp_sk_test"),
  credential: { credentialId: "c1", agentId: "agent-1", clientId: "agent-1", status: "active", secretVersion: 1, rotatedFrom: 0, storage: "vault" },
};

describe("SecretDialog", () => {
  it("shows the secret once and closes only after the user says it is stored", async () => {
    const onClose = vi.fn();
    render(<SecretDialog issued={issued} title="Credential generated" onClose={onClose} />);
    expect(screen.getByLabelText("Client secret")).toHaveValue("agentidp_sk_test");
    expect(screen.getByText("This is the only time the secret is shown")).toBeInTheDocument();
    const done = screen.getByRole("button", { name: "Done" });
    expect(done).toBeDisabled();
    await userEvent.keyboard("{Escape}");
    expect(onClose).not.toHaveBeenCalled();
    await userEvent.click(screen.getByLabelText("I have stored the secret"));
    await userEvent.click(done);
    expect(onClose).toHaveBeenCalledOnce();
  });

  // jsdom has no layout, so its name computation drops the space Chrome keeps ("Copy the client secret").
  it("names its copy buttons for screen readers", () => {
    render(<SecretDialog issued={issued} title="t" onClose={() => {}} />);
    expect(screen.getByRole("button", { name: /^Copy\s*the client secret$/ })).toBeInTheDocument();
    expect(screen.getByRole("button", { name: /^Copy\s*the client ID$/ })).toBeInTheDocument();
  });
});
