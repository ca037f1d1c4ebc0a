// The dashboard in a real browser (Debian's Chromium, driven by
// playwright-core) against a live mesh: the gateway serves the dashboard and
// the API from one origin. deploy/local/dashboarde2e starts a mesh and runs
// this with:
//
//   DASHBOARD_URL           the gateway, e.g. http://127.0.0.1:8080
//   AGENTIDP_CLIENT_ID      the bootstrap admin (every scope)
//   AGENTIDP_CLIENT_SECRET
//   CHROMIUM_PATH           default /usr/bin/chromium
//   SCREENSHOT_DIR          default dashboard/e2e-screenshots
//
// Against `make dev`: . ../.dev/env && DASHBOARD_URL=$AGENTIDP_URL npm run e2e
//
// One scenario, in order, as an operator would go: sign in as the admin (the
// platform admin), register an agent for an owner of this run, give it a
// credential (the secret read once), rotate it, suspend and reactivate the
// agent, find all of it in the audit log, decommission another agent, look
// at health, then sign in as the new agent (agents:read only) and find every
// write unavailable but its own rotation, only its owner's agents listed and
// another owner's agent not found, and as an auditor of the same owner only
// that owner's events, without the chain's verification. Each page is
// screenshotted and scanned with axe-core (no serious or critical issue).
//
// Everything it makes is named and owned per run (e2e-<run>), and it finds
// what it made by owner and name, so it holds on a stack that already holds
// many agents (a long-lived `make dev`).
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { after, before, test } from "node:test";

import { chromium } from "playwright-core";

const BASE = process.env.DASHBOARD_URL ?? process.env.AGENTIDP_URL;
const ADMIN_ID = process.env.AGENTIDP_CLIENT_ID;
const ADMIN_SECRET = process.env.AGENTIDP_CLIENT_SECRET;
const SHOTS = process.env.SCREENSHOT_DIR ?? new URL("../e2e-screenshots", import.meta.url).pathname;
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const live = Boolean(BASE && ADMIN_ID && ADMIN_SECRET);

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
const suffix = Date.now().toString(36);
const READER = `e2e-reader-${suffix}`;
const DOOMED = `e2e-doomed-${suffix}`;
const AUDITOR = `e2e-auditor-${suffix}`;
const STRANGER = `e2e-stranger-${suffix}`;
// Owners (tenants) of this run: the reader's, and another one's.
const OWNER = `e2e-team-${suffix}`;
const OTHER_OWNER = `e2e-other-${suffix}`;

/** @type {import("playwright-core").Browser} */
let browser;
/** Problems the pages reported: uncaught errors and CSP violations. */
const pageProblems = [];
/** Whether the gateway enforces authz (a /v1 call without a token is refused). */
let authzEnforced = false;

before(async () => {
  if (!live) return;
  mkdirSync(SHOTS, { recursive: true });
  const r = await fetch(`${BASE}/v1/agents`);
  authzEnforced = r.status === 401;
  // playwright-core starts Chromium with a fresh temporary profile
  // (--user-data-dir) and --headless; the rest keeps it off the network.
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync",
      "--no-first-run", "--disable-quic"],
  });
});

after(async () => {
  await browser?.close();
});

async function newPage() {
  const context = await browser.newContext({ baseURL: BASE, viewport: { width: 1280, height: 860 }, colorScheme: "light" });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: BASE });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  page.on("pageerror", (e) => pageProblems.push(`page error on ${page.url()}: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" && /Content Security Policy/i.test(m.text())) pageProblems.push(`CSP on ${page.url()}: ${m.text()}`);
  });
  return page;
}

/** axe-core on the page as it is now: no serious or critical violation. */
async function axe(page, name) {
  // page.evaluate runs outside the page's CSP, which forbids injected scripts.
  await page.evaluate(`(() => { ${axeSource}\n; return true })()`);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(
    bad.map((v) => `${v.impact} ${v.id}: ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(" | ")}`),
    [],
    `axe-core found serious or critical issues on ${name}`,
  );
}

async function shot(page, file, opts = {}) {
  // Toasts would cover the page: they are checked where they matter, not pictured.
  await page.screenshot({ path: join(SHOTS, file), fullPage: true, animations: "disabled", style: "[data-sonner-toaster] { display: none !important; }", ...opts });
}

async function signIn(page, id, secret) {
  await page.goto("/login");
  await page.getByLabel("Client ID").fill(id);
  await page.getByLabel("Client secret").fill(secret);
  await page.getByRole("button", { name: "Sign in" }).click();
  // Signed in, the app goes where the user was headed (the overview by default).
  const signedIn = page.getByTestId("identity-menu");
  const refused = page.getByRole("alert").filter({ hasText: "Could not sign in" });
  await signedIn.or(refused).first().waitFor();
  if (await refused.isVisible()) throw new Error(`sign-in refused: ${await refused.innerText()}`);
}

/** signIn, retried for a few seconds: a change (a new agent, a reactivation) reaches the token service a moment later. */
async function signInEventually(page, id, secret) {
  for (let i = 0; ; i++) {
    try {
      await signIn(page, id, secret);
      return;
    } catch (e) {
      console.error(`sign-in attempt ${i + 1}: ${e.message.split("\n")[0]}`);
      if (i >= 5) throw e;
      await page.waitForTimeout(1000);
    }
  }
}

/** The admin's access token for adminApi, fetched once (the token endpoint limits each client's rate). */
let adminToken;

/** Calls the API as the admin (setting up what the browser need not show). */
async function adminApi(method, path, body) {
  if (!adminToken) {
    const t = await fetch(`${BASE}/oauth2/token`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Authorization: `Basic ${btoa(`${encodeURIComponent(ADMIN_ID)}:${encodeURIComponent(ADMIN_SECRET)}`)}` },
      body: "grant_type=client_credentials",
    });
    assert.equal(t.status, 200, `the admin's token: ${await t.clone().text()}`);
    adminToken = (await t.json()).access_token;
  }
  const r = await fetch(`${BASE}${path}`, {
    method, headers: { Authorization: `Bearer ${adminToken}`, "Content-Type": "application/json" }, body: body && JSON.stringify(body),
  });
  const text = await r.text();
  assert.ok(r.ok, `${method} ${path}: ${r.status} ${text}`);
  return JSON.parse(text);
}

/** Re-applies the audit filters until every action shows (the log ingests asynchronously). */
async function waitForActions(page, actions, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const seen = await page.locator("[data-testid=audit-table] tr[data-action]").evaluateAll((rows) => rows.map((r) => r.dataset.action));
    const missing = actions.filter((a) => !seen.includes(a));
    if (missing.length === 0) return;
    if (Date.now() > deadline) assert.fail(`audit log lacks ${missing.join(", ")}; it shows ${seen.join(", ")}`);
    await page.waitForTimeout(1000);
    await page.getByTestId("apply-filters").click();
    await page.waitForLoadState("networkidle");
  }
}

test("the dashboard against the live mesh", { skip: !live && "DASHBOARD_URL, AGENTIDP_CLIENT_ID and AGENTIDP_CLIENT_SECRET are not set" }, async (suite) => {
  const page = await newPage();
  // Each step screenshots the page when it fails, for the reviewer.
  const t = {
    test: (name, opts, fn) => suite.test(name, typeof opts === "function" ? {} : opts, async (st) => {
      try {
        await (fn ?? opts)(st);
      } catch (e) {
        await shot(page, `failed-${name.replace(/[^a-z0-9]+/gi, "-").slice(0, 60)}.png`).catch(() => {});
        throw e;
      }
    }),
  };
  let agentId = "";
  let secret = "";
  let strangerId = ""; // an agent of another owner

  await t.test("a stack that already holds many agents", async () => {
    // More than a page of agents named like this run's, registered before
    // them (lists are oldest first): what the suite made must be found by
    // owner and name, never expected on the first page.
    for (let i = 0; i < 25; i++) {
      await adminApi("POST", `/v1/agents?requestId=e2e-crowd-${suffix}-${i}`, { name: `e2e-crowd-${suffix}-${i}`, owner: `e2e-crowd-${suffix}` });
    }
  });

  await t.test("deep links need a session; health does not", async () => {
    await page.goto("/agents");
    await page.waitForURL("**/login");
    await page.goto("/health");
    await page.getByRole("heading", { name: "Health", level: 1 }).waitFor();
    await page.locator("[data-testid=services-table] tr[data-service]").first().waitFor();
  });

  await t.test("sign in as the bootstrap admin", async () => {
    await page.goto("/login");
    await page.getByLabel("Client secret").fill("agentidp_sk_wrong");
    await page.getByLabel("Client ID").fill(ADMIN_ID);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByText("Could not sign in").waitFor();
    await shot(page, "01-login.png");
    await axe(page, "the sign-in page");
    await page.getByLabel("Client secret").fill(ADMIN_SECRET);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Overview", level: 1 }).waitFor();
    // The header names the signed-in agent's owner; the bootstrap admin is a platform admin.
    const owner = page.getByTestId("caller-owner");
    assert.equal(await owner.getAttribute("data-platform-admin"), "true");
    assert.ok(await owner.getAttribute("data-owner"), "the header names no owner");
    await owner.getByText("platform admin").waitFor();
    const stored = await page.evaluate(() => Object.keys(sessionStorage));
    assert.ok(stored.includes("agentidp.dashboard.token"), `sessionStorage holds ${stored}`);
    const text = await page.evaluate(() => JSON.stringify(sessionStorage) + JSON.stringify(localStorage));
    assert.ok(!text.includes(ADMIN_SECRET), "the client secret is stored");
    await page.locator("figure svg").waitFor(); // the token chart has data
    await shot(page, "02-overview.png");
    await axe(page, "the overview");
  });

  await t.test("register an agent with agents:read", async () => {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Agents" }).click();
    await page.getByRole("heading", { name: "Agents", level: 1 }).waitFor();
    await page.getByTestId("register-agent").click();
    await page.getByRole("heading", { name: "Register an agent" }).waitFor();
    // Validation happens before any request, next to the fields.
    await page.getByRole("button", { name: "Register", exact: true }).click();
    await page.getByText("A name is required.").waitFor();
    assert.equal(await page.getByLabel("Name").getAttribute("aria-invalid"), "true");
    await page.getByLabel("Name").fill(READER);
    // A platform admin may register for another owner (anyone else registers for its own).
    await page.getByLabel("Owner").fill(OWNER);
    await page.getByLabel("Type").fill("Not Valid");
    await page.getByText("1-63 lower-case letters").waitFor();
    await page.getByLabel("Type").fill("assistant");
    await page.getByLabel("Version").fill("1.0.0");
    await page.getByLabel("Capabilities").fill("web.search, invoices.read");
    await page.getByLabel("agents:read").check();
    await page.getByLabel("Metadata").fill("team=e2e");
    await shot(page, "03-register.png");
    await axe(page, "the register form");
    await page.getByRole("button", { name: "Register", exact: true }).click();
    await page.waitForURL(/\/agents\/[0-9a-f-]{36}$/);
    agentId = page.url().split("/").pop();
    await page.getByRole("heading", { name: READER, level: 1 }).waitFor();
    await page.locator("[data-status=active]").first().waitFor();
    assert.equal(await page.getByTestId("agent-owner").innerText(), OWNER);
  });

  await t.test("generate a credential: the secret is shown once", async () => {
    await page.getByTestId("generate-credential").click();
    await page.getByTestId("confirm-generate").click();
    const dialog = page.getByTestId("secret-dialog");
    await dialog.waitFor();
    secret = await page.getByTestId("issued-secret").inputValue();
    assert.match(secret, /^agentidp_sk_[0-9A-Za-z]{22}_[0-9A-Za-z]{49}$/);
    // It cannot be dismissed before the user says it is stored.
    assert.equal(await page.getByTestId("secret-done").isDisabled(), true);
    await page.keyboard.press("Escape");
    assert.equal(await dialog.isVisible(), true, "Escape closed the secret dialog");
    await page.getByTestId("copy-secret").click();
    await page.getByText("Copied").waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret);
    await page.getByTestId("secret-stored").check();
    await shot(page, "05-secret-once.png", { fullPage: false, mask: [page.getByTestId("issued-secret")] });
    await axe(page, "the secret dialog");
    await page.getByTestId("secret-done").click();
    await dialog.waitFor({ state: "detached" });
    assert.ok(!(await page.content()).includes(secret), "the secret is still in the page");
    await page.locator("[data-testid=credentials-table] [data-status=active]").waitFor();
  });

  await t.test("rotate it with a grace period", async () => {
    const old = secret;
    await page.getByTestId("rotate-credential").click();
    await page.getByLabel("Grace period (seconds)").fill("90000");
    await page.getByText("A whole number of seconds from 0 to 86400.").waitFor();
    await page.getByLabel("Grace period (seconds)").fill("60");
    await page.getByTestId("confirm-rotate").click();
    await page.getByTestId("secret-dialog").waitFor();
    secret = await page.getByTestId("issued-secret").inputValue();
    assert.match(secret, /^agentidp_sk_/);
    assert.notEqual(secret, old);
    await page.getByTestId("secret-stored").check();
    await page.getByTestId("secret-done").click();
    await page.getByTestId("secret-dialog").waitFor({ state: "detached" });
    await page.getByText("v2").waitFor();
    await page.getByTestId("grace").waitFor();
  });

  await t.test("suspend and reactivate the agent", async () => {
    await page.getByTestId("suspend-agent").click();
    await page.locator("h1 + div [data-status=suspended]").waitFor();
    await page.getByTestId("reactivate-agent").click();
    await page.locator("h1 + div [data-status=active]").waitFor();
    await page.getByTestId("suspend-agent").waitFor();
    await shot(page, "04-agent-detail.png");
    await axe(page, "the agent's page");
  });

  await t.test("edit the agent: the form starts from it and sends only what changed", async () => {
    await page.getByTestId("edit-agent").click();
    await page.getByRole("heading", { name: `Edit ${READER}`, level: 1 }).waitFor();
    assert.equal(await page.getByLabel("Version").inputValue(), "1.0.0");
    assert.equal(await page.getByLabel("Metadata").inputValue(), "team=e2e");
    // The registry's rules, next to the field, before any request.
    await page.getByLabel("Deployment environment").fill("Production");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByText("1-32 lower-case letters").waitFor();
    assert.equal(await page.getByLabel("Deployment environment").getAttribute("aria-invalid"), "true");
    await page.getByLabel("Deployment environment").fill("production");
    await page.getByLabel("Description").fill("Reads agents for the e2e run.");
    await shot(page, "04b-edit.png");
    await axe(page, "the edit form");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByRole("heading", { name: READER, level: 1 }).waitFor();
    await page.getByText("Reads agents for the e2e run.").waitFor();
    await page.getByText("production", { exact: true }).waitFor();
  });

  await t.test("each of those is in the audit log, and the chain verifies", async () => {
    await page.getByRole("link", { name: "Events of this agent" }).click();
    await page.getByRole("heading", { name: "Audit Log", level: 1 }).waitFor();
    assert.equal(await page.getByLabel("Agent ID").inputValue(), agentId);
    await waitForActions(page, ["agent.registered", "credential.generated", "credential.rotated", "agent.suspended", "agent.reactivated", "agent.updated"]);
    await page.locator("[data-testid=chain-status][data-state=ok]").waitFor({ timeout: 30_000 });
    await shot(page, "06-audit-log.png");
    await axe(page, "the audit log");
    await page.locator("tr[data-action='agent.suspended']").getByRole("link", { name: /Details/ }).click();
    const ev = page.getByTestId("audit-event");
    await ev.getByRole("heading", { name: "agent.suspended" }).waitFor();
    await ev.getByText(/^[0-9a-f]{64}$/).first().waitFor(); // its hash
    await shot(page, "07-audit-event.png", { fullPage: false });
    await axe(page, "an audit event");
    await page.keyboard.press("Escape");
    await page.waitForURL((u) => u.pathname === "/audit");
    // The outcome filter narrows the list.
    await page.getByLabel("Outcome").selectOption("denied");
    await page.getByTestId("apply-filters").click();
    await page.getByText("No events match").waitFor();
  });

  await t.test("search, filter and decommission with a confirmation naming the agent", async () => {
    await page.goto("/agents/new");
    await page.getByLabel("Name").fill(DOOMED);
    await page.getByLabel("Owner").fill(OWNER);
    await page.getByRole("button", { name: "Register", exact: true }).click();
    await page.getByRole("heading", { name: DOOMED, level: 1 }).waitFor();
    await page.getByTestId("decommission-agent").click();
    const dialog = page.getByRole("alertdialog");
    await dialog.getByRole("heading", { name: `Decommission ${DOOMED}?` }).waitFor();
    const confirm = page.getByTestId("confirm-decommission");
    assert.equal(await confirm.isDisabled(), true);
    await dialog.getByLabel(`Type ${DOOMED} to confirm`).fill(DOOMED);
    await shot(page, "09-decommission.png", { fullPage: false });
    await axe(page, "the decommission confirmation");
    await confirm.click();
    await page.waitForURL((u) => u.pathname === "/agents");

    // This run's owner holds only this run's agents, whatever the stack holds besides.
    await page.getByLabel("Owner").fill(OWNER);
    await page.getByLabel("Owner").press("Enter");
    await page.getByLabel("Name").fill(`e2e-`);
    await page.locator(`[data-testid=agents-table] >> text=${READER}`).waitFor();
    await page.locator(`[data-testid=agents-table] >> text=${DOOMED}`).waitFor();
    await page.getByLabel("Status").selectOption("decommissioned");
    await page.locator(`[data-testid=agents-table] >> text=${READER}`).waitFor({ state: "detached" });
    await page.locator(`[data-testid=agents-table] >> text=${DOOMED}`).waitFor();
    await page.getByLabel("Status").selectOption("");
    await page.getByLabel("Name").fill(READER);
    await page.locator(`[data-testid=agents-table] >> text=${DOOMED}`).waitFor({ state: "detached" });
    for (const o of await page.locator("[data-testid=agents-table] tr[data-agent]").evaluateAll((rows) => rows.map((r) => r.dataset.owner))) {
      assert.equal(o, OWNER);
    }
    await shot(page, "08-agents.png");
    await axe(page, "the agents list");
  });

  await t.test("health: gateway, services and data stores", async () => {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Health" }).click();
    for (const svc of ["registry", "credentials", "audit", "token"]) {
      await page.locator(`tr[data-service=${svc}] [data-status=SERVING]`).first().waitFor();
    }
    for (const dep of ["postgres", "redis", "vault"]) {
      await page.locator(`[data-dependency=${dep}][data-state=reachable]`).waitFor();
    }
    await page.locator("[data-testid=gateway-live] [data-status=SERVING]").waitFor();
    await shot(page, "10-health.png");
    await axe(page, "the health page");
  });

  await t.test("dark theme", async () => {
    await page.goto("/");
    await page.getByTestId("theme-menu").click();
    await page.getByRole("menuitemradio", { name: "Dark" }).click();
    await page.waitForFunction(() => document.documentElement.classList.contains("dark"));
    await page.locator("figure svg").waitFor();
    await shot(page, "11-overview-dark.png");
    await axe(page, "the overview in the dark theme");
    await page.goto("/health");
    assert.equal(await page.evaluate(() => document.documentElement.classList.contains("dark")), true, "the theme did not persist");
    await page.getByTestId("theme-menu").click();
    await page.getByRole("menuitemradio", { name: "Light" }).click();
  });

  await t.test("keyboard: skip link, / to search, Enter opens an agent", async () => {
    await page.goto("/agents");
    await page.getByRole("heading", { name: "Agents", level: 1 }).waitFor();
    await page.keyboard.press("Tab");
    const skip = page.getByRole("link", { name: "Skip to content" });
    assert.equal(await skip.evaluate((el) => el === document.activeElement), true, "the first Tab does not reach the skip link");
    await page.locator("body").click({ position: { x: 5, y: 700 } });
    await page.keyboard.press("/");
    assert.equal(await page.getByLabel("Name").evaluate((el) => el === document.activeElement), true, "/ does not focus the search");
    await page.keyboard.type(READER);
    const link = page.getByRole("link", { name: READER });
    await link.waitFor();
    await link.focus();
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: READER, level: 1 }).waitFor();
  });

  await t.test("sign out clears the session", async () => {
    await page.getByTestId("identity-menu").click();
    await page.getByTestId("sign-out").click();
    await page.waitForURL("**/login");
    assert.deepEqual(await page.evaluate(() => Object.keys(sessionStorage)), []);
    await page.goto("/agents");
    await page.waitForURL("**/login");
  });

  await t.test("as an agent with only agents:read, every write is unavailable", async () => {
    // Reactivation reaches the token service within milliseconds; allow a moment.
    await signInEventually(page, agentId, secret);
    const owner = page.getByTestId("caller-owner");
    assert.equal(await owner.getAttribute("data-owner"), OWNER);
    assert.equal(await owner.getAttribute("data-platform-admin"), "false");
    await page.getByTestId("identity-menu").click();
    const scopes = await page.getByTestId("scopes").innerText();
    assert.match(scopes, /agents:read\s*\(granted\)/);
    assert.match(scopes, /agents:write\s*\(not granted\)/);
    assert.match(scopes, /platform:admin\s*\(not granted\)/);
    await page.keyboard.press("Escape");
    await page.goto("/");
    await page.getByText("Needs the audit:read scope").first().waitFor(); // the chart says why it is empty

    await page.goto("/agents");
    const register = page.getByTestId("register-agent");
    await register.waitFor();
    assert.equal(await register.getAttribute("aria-disabled"), "true");
    assert.match(await register.getAttribute("data-disabled-reason"), /agents:write/);
    await register.click({ force: true });
    assert.equal(new URL(page.url()).pathname, "/agents", "the disabled button navigated");
    await register.focus();
    await page.getByRole("tooltip").waitFor(); // the reason shows on keyboard focus too
    await page.locator(`[data-testid=agents-table] >> text=${READER}`).waitFor();
    await shot(page, "12-readonly-agents.png");
    await axe(page, "the agents list, read-only");

    await page.goto(`/agents/${agentId}`);
    await page.getByRole("heading", { name: READER, level: 1 }).waitFor();
    for (const id of ["suspend-agent", "decommission-agent", "generate-credential", "revoke-credential"]) {
      const b = page.getByTestId(id).first();
      assert.equal(await b.getAttribute("aria-disabled"), "true", `${id} is available`);
      assert.ok(await b.getAttribute("data-disabled-reason"), `${id} gives no reason`);
    }
    // An agent rotates its own credential with a token carrying all its scopes (no credentials:write needed).
    assert.equal(await page.getByTestId("rotate-credential").first().getAttribute("aria-disabled"), null, "its own rotation is unavailable");
    await page.goto("/agents/new");
    await page.waitForURL((u) => u.pathname === "/agents");
    await page.goto(`/agents/${agentId}`);
    await page.getByRole("heading", { name: READER, level: 1 }).waitFor();
    await shot(page, "13-readonly-agent.png");
    await axe(page, "the agent's page, read-only");
  });

  await t.test("a 403 from the API is a clear message (needs authz at the gateway)", { skip: !authzEnforced && "the gateway does not enforce authz: /v1 answers without a token" }, async () => {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: /Audit Log/ }).click();
    const forbidden = page.getByTestId("forbidden").first();
    await forbidden.waitFor();
    const text = await forbidden.innerText();
    assert.match(text, /Permission denied/);
    assert.match(text, /audit:read/);
    await shot(page, "14-readonly-audit-403.png");
    await axe(page, "the audit log, forbidden");
  });

  await t.test("an agent sees only its owner's agents; another owner's is not found (needs authz)", { skip: !authzEnforced && "the gateway does not enforce authz: /v1 answers without a token" }, async () => {
    strangerId = (await adminApi("POST", `/v1/agents?requestId=${STRANGER}`, { name: STRANGER, owner: OTHER_OWNER, scopes: ["agents:read"] })).agentId;
    await page.goto("/agents");
    const ownerBox = page.getByLabel("Owner");
    assert.equal(await ownerBox.inputValue(), OWNER);
    assert.equal(await ownerBox.getAttribute("readonly"), "");
    await page.locator(`[data-testid=agents-table] >> text=${READER}`).waitFor();
    const owners = await page.locator("[data-testid=agents-table] tr[data-agent]").evaluateAll((rows) => rows.map((r) => r.dataset.owner));
    assert.ok(owners.length > 0 && owners.every((o) => o === OWNER), `the list shows owners ${owners.join(", ")}`);
    await page.getByLabel("Name").fill(STRANGER);
    await page.getByText("No agent matches these filters").waitFor();
    await page.goto(`/agents/${strangerId}`);
    await page.getByTestId("agent-not-found").waitFor();
    await page.getByRole("heading", { name: "Agent not found", level: 1 }).waitFor();
    assert.ok(!(await page.content()).includes(STRANGER), "another owner's agent shows its name");
    await shot(page, "15-other-owner-not-found.png");
    await axe(page, "another owner's agent");
  });

  await t.test("an auditor reads only its owner's events and cannot verify the chain (needs authz)", { skip: !authzEnforced && "the gateway does not enforce authz: /v1 answers without a token" }, async () => {
    const auditor = await adminApi("POST", `/v1/agents?requestId=${AUDITOR}`, { name: AUDITOR, owner: OWNER, scopes: ["agents:read", "audit:read"] });
    const cred = await adminApi("POST", `/v1/agents/${auditor.agentId}/credentials`, {});
    await page.getByTestId("identity-menu").click();
    await page.getByTestId("sign-out").click();
    await page.waitForURL("**/login");
    await signInEventually(page, auditor.agentId, cred.clientSecret);
    await page.goto("/audit");
    await page.getByRole("heading", { name: "Audit Log", level: 1 }).waitFor();
    await page.locator("[data-testid=chain-status][data-state=not-allowed]").waitFor();
    const verify = page.getByTestId("verify-chain");
    assert.equal(await verify.getAttribute("aria-disabled"), "true");
    assert.match(await verify.getAttribute("data-disabled-reason"), /platform:admin/);
    assert.equal(await page.getByLabel("Owner").count(), 0, "a non-platform agent is offered an owner filter");
    await page.locator("[data-testid=audit-table] tr[data-action]").first().waitFor();
    const owners = await page.locator("[data-testid=audit-table] tr[data-action]").evaluateAll((rows) => rows.map((r) => r.dataset.owner));
    assert.ok(owners.every((o) => o === OWNER), `the audit log shows owners ${owners.join(", ")}`);
    await shot(page, "16-auditor-audit-log.png");
    await axe(page, "the audit log of one owner");
    await page.locator("[data-testid=audit-table] tr[data-action]").first().getByRole("link", { name: /Details/ }).click();
    assert.equal(await page.getByTestId("event-owner").innerText(), OWNER);
    await page.keyboard.press("Escape");
    // Another owner's agent has no events for it.
    await page.getByLabel("Agent ID").fill(strangerId);
    await page.getByTestId("apply-filters").click();
    await page.getByText("No events match").waitFor();
  });

  await t.test("no page error and no CSP violation", () => {
    assert.deepEqual(pageProblems, []);
  });
});
