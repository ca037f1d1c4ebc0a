// The interpreter of the language-neutral contract suite (sdks/contract/README.md).

import { randomBytes } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import { inspect } from "node:util";
import { fileURLToPath } from "node:url";

import { AgentIdPClient, AgentIdPError, type AgentStatus, type AuditEvent, Secret } from "../src/index.js";

export const SCENARIOS = fileURLToPath(new URL("../../contract/scenarios/", import.meta.url));

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

export interface Step {
  op: string;
  as?: string;
  args?: Obj;
  save?: string;
  expect?: Json;
  expectError?: Json;
  eventually?: { timeoutMs: number };
  repeat?: { max: number };
  comment?: string;
}

export interface Scenario {
  name: string;
  description?: string;
  requires?: string[];
  steps: Step[];
}

export interface MeshEnv {
  url: string;
  clientId: string;
  secret: string;
}

export class ContractFailure extends Error {}

const STEP_KEYS = new Set(["op", "as", "args", "save", "expect", "expectError", "eventually", "repeat", "comment"]);
const SCENARIO_KEYS = new Set(["name", "description", "requires", "steps"]);
const AGENT_FIELDS = ["name", "description", "agentType", "version", "owner", "capabilities", "scopes", "deploymentEnv", "metadata"];

export function scenarioFiles(): string[] {
  return readdirSync(SCENARIOS).filter((f) => f.endsWith(".json")).sort();
}

export function load(file: string): Scenario {
  const data = JSON.parse(readFileSync(SCENARIOS + file, "utf8")) as Scenario & Record<string, unknown>;
  for (const k of Object.keys(data)) if (!SCENARIO_KEYS.has(k)) throw new Error(`${file}: unknown key ${k}`);
  data.steps.forEach((s, i) => {
    for (const k of Object.keys(s)) if (!STEP_KEYS.has(k)) throw new Error(`${file} step ${i + 1}: unknown key ${k}`);
  });
  return data;
}

/** The JSON view of a result: REST names, dates as strings, secrets revealed. */
export function plain(v: unknown): Json {
  if (v === undefined || v === null) return null;
  if (v instanceof Secret) return v.reveal();
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map(plain);
  if (typeof v === "object") {
    const out: Obj = {};
    for (const [k, x] of Object.entries(v)) out[k] = plain(x);
    return out;
  }
  return v as Json;
}

function allow(a: Obj, ...keys: string[]): void {
  for (const k of Object.keys(a)) if (!keys.includes(k)) throw new Error(`unknown argument ${k}`);
}

const s = (a: Obj, k: string): string => a[k] as string;
const opt = <T>(a: Obj, k: string): T | undefined => (k in a ? (a[k] as T) : undefined);
/** Drops undefined values (exactOptionalPropertyTypes). */
const defined = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

async function collect<T>(items: AsyncIterable<T>, limit: number): Promise<T[]> {
  const out: T[] = [];
  for await (const it of items) {
    out.push(it);
    if (limit && out.length >= limit) break;
  }
  return out;
}

export class Runner {
  vars: Record<string, Json> = { run: randomBytes(4).toString("hex") };
  secrets: string[];
  clients: Record<string, AgentIdPClient>;

  constructor(readonly env: MeshEnv) {
    this.secrets = [env.secret];
    this.clients = { admin: new AgentIdPClient({ baseUrl: env.url, clientId: env.clientId, clientSecret: env.secret }) };
  }

  async run(sc: Scenario): Promise<void> {
    for (const [i, step] of sc.steps.entries()) {
      try {
        await this.step(step);
      } catch (e) {
        if (e instanceof ContractFailure) {
          throw new ContractFailure(`step ${i + 1} (${step.op}) ${step.comment ?? ""}: ${e.message}`);
        }
        throw e;
      }
    }
  }

  async step(step: Step): Promise<void> {
    const args = this.interpolate(step.args ?? {}) as Obj;
    const expect = step.expect !== undefined ? this.interpolate(step.expect) : undefined;
    const expectError = step.expectError !== undefined ? this.interpolate(step.expectError) : undefined;
    const deadline = Date.now() + (step.eventually?.timeoutMs ?? 0);
    for (;;) {
      try {
        const view = await this.attempt(step, args, expect, expectError);
        if (step.save) this.vars[step.save] = view;
        return;
      } catch (e) {
        if (!(e instanceof ContractFailure) || Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  async attempt(step: Step, args: Obj, expect: Json | undefined, expectError: Json | undefined): Promise<Json> {
    if (step.repeat) {
      for (let i = 0; i < step.repeat.max; i++) {
        try {
          await this.execute(step, args);
        } catch (e) {
          this.checkError(e, expectError);
          return null;
        }
      }
      throw new ContractFailure(`no error after ${step.repeat.max} calls`);
    }
    let result: unknown;
    try {
      result = await this.execute(step, args);
    } catch (e) {
      if (step.expectError === undefined) {
        if (e instanceof AgentIdPError) throw new ContractFailure(`unexpected error: ${e.toString()}`);
        throw e;
      }
      this.checkError(e, expectError);
      return null;
    }
    if (step.expectError !== undefined) throw new ContractFailure(`expected an error, got ${inspect(result)}`);
    if (step.op !== "check") this.checkNoSecret(`${inspect(result, { depth: 10 })} ${String(result)} ${JSON.stringify(result)}`);
    const view = plain(result);
    if (expect !== undefined) match(expect, view, "result");
    return view;
  }

  checkNoSecret(text: string): void {
    for (const secret of this.secrets) {
      if (secret && text.includes(secret)) throw new Error(`a secret appears in the string form of a result or error: ${text}`);
    }
  }

  checkError(e: unknown, expect: Json | undefined): void {
    if (!(e instanceof AgentIdPError)) throw e;
    this.checkNoSecret(`${String(e)} ${e.message} ${inspect(e)} ${e.stack ?? ""} ${JSON.stringify(e)}`);
    const view = plain({ code: e.code, message: e.message, httpStatus: e.httpStatus, details: e.details, retryAfter: e.retryAfter });
    if (expect === undefined) return;
    try {
      match(expect, view, "error");
    } catch (f) {
      if (f instanceof ContractFailure) throw new ContractFailure(`${f.message} (the error: ${e.toString()})`);
      throw f;
    }
  }

  async execute(step: Step, a: Obj): Promise<unknown> {
    if (step.op === "client.new") {
      allow(a, "name", "clientId", "clientSecret", "scopes", "maxRetries");
      this.clients[s(a, "name")] = new AgentIdPClient(defined({
        baseUrl: this.env.url, clientId: s(a, "clientId"), clientSecret: s(a, "clientSecret"),
        scopes: opt<string[]>(a, "scopes"), maxRetries: opt<number>(a, "maxRetries"),
      }));
      this.secrets.push(s(a, "clientSecret"));
      return undefined;
    }
    if (step.op === "check") {
      allow(a, "value");
      return a["value"];
    }
    const c = this.clients[step.as ?? "admin"];
    if (!c) throw new Error(`no client ${step.as}`);
    switch (step.op) {
      case "client.clearTokenCache":
        allow(a);
        c.clearTokenCache();
        return undefined;
      case "agents.register": {
        allow(a, "requestId", ...AGENT_FIELDS);
        return c.agents.register({ name: "", ...a } as never);
      }
      case "agents.get":
        allow(a, "agentId");
        return c.agents.get(s(a, "agentId"));
      case "agents.list":
        allow(a, "status", "owner", "agentType", "search", "pageSize", "limit");
        return collect(c.agents.list(defined({
          status: opt<AgentStatus>(a, "status"), owner: opt<string>(a, "owner"), agentType: opt<string>(a, "agentType"),
          search: opt<string>(a, "search"), pageSize: opt<number>(a, "pageSize"),
        })), opt<number>(a, "limit") ?? 0);
      case "agents.update": {
        allow(a, "agentId", "changes", "etag");
        const changes = a["changes"] as Obj;
        for (const k of Object.keys(changes)) if (!AGENT_FIELDS.includes(k)) throw new Error(`agents.update: unknown field ${k}`);
        return c.agents.update(s(a, "agentId"), changes as never, defined({ etag: opt<string>(a, "etag") }));
      }
      case "agents.suspend":
        allow(a, "agentId");
        return c.agents.suspend(s(a, "agentId"));
      case "agents.reactivate":
        allow(a, "agentId");
        return c.agents.reactivate(s(a, "agentId"));
      case "agents.decommission":
        allow(a, "agentId");
        return c.agents.decommission(s(a, "agentId"));
      case "credentials.generate": {
        allow(a, "agentId", "ttlSeconds");
        const r = await c.credentials.generate(s(a, "agentId"), defined({ ttlSeconds: opt<number>(a, "ttlSeconds") }));
        this.secrets.push(r.clientSecret.reveal());
        return r;
      }
      case "credentials.list":
        allow(a, "agentId", "pageSize", "limit");
        return collect(c.credentials.list(s(a, "agentId"), defined({ pageSize: opt<number>(a, "pageSize") })), opt<number>(a, "limit") ?? 0);
      case "credentials.rotate": {
        allow(a, "agentId", "credentialId", "gracePeriodSeconds");
        const r = await c.credentials.rotate(s(a, "agentId"), s(a, "credentialId"),
          defined({ gracePeriodSeconds: opt<number>(a, "gracePeriodSeconds") }));
        this.secrets.push(r.clientSecret.reveal());
        return r;
      }
      case "credentials.revoke":
        allow(a, "agentId", "credentialId");
        return c.credentials.revoke(s(a, "agentId"), s(a, "credentialId"));
      case "tokens.issue": {
        allow(a, "scopes");
        const r = await c.tokens.issue(opt<string[]>(a, "scopes"));
        this.secrets.push(r.accessToken.reveal());
        return r;
      }
      case "tokens.introspect":
        allow(a, "token");
        return c.tokens.introspect(s(a, "token"));
      case "tokens.revoke":
        allow(a, "token");
        return c.tokens.revoke(s(a, "token"));
      case "audit.query":
        allow(a, "agentId", "action", "outcome", "actor", "owner", "pageSize", "limit");
        return collect(c.audit.query(defined({
          agentId: opt<string>(a, "agentId"), action: opt<string>(a, "action"),
          outcome: opt<AuditEvent["outcome"]>(a, "outcome"), actor: opt<string>(a, "actor"), owner: opt<string>(a, "owner"),
          pageSize: opt<number>(a, "pageSize"),
        })), opt<number>(a, "limit") ?? 0);
      case "audit.get":
        allow(a, "eventId");
        return c.audit.get(s(a, "eventId"));
      case "audit.verify":
        allow(a, "fromSequence", "toSequence");
        return c.audit.verify({ fromSequence: opt<number>(a, "fromSequence"), toSequence: opt<number>(a, "toSequence") });
      case "audit.checkpoints":
        allow(a, "fromSequence", "limit");
        return collect(c.audit.checkpoints({ fromSequence: opt<number>(a, "fromSequence") }), opt<number>(a, "limit") ?? 0);
    }
    throw new Error(`unknown op ${step.op}`);
  }

  interpolate(v: Json): Json {
    if (typeof v === "string") {
      const whole = /^\$\{([^}]+)\}$/.exec(v);
      if (whole) return this.lookup(whole[1]!);
      return v.replace(/\$\{([^}]+)\}/g, (_, p: string) => String(this.lookup(p)));
    }
    if (Array.isArray(v)) return v.map((x) => this.interpolate(x));
    if (v !== null && typeof v === "object") {
      const out: Obj = {};
      for (const [k, x] of Object.entries(v)) out[k] = this.interpolate(x);
      return out;
    }
    return v;
  }

  lookup(path: string): Json {
    const [head, ...rest] = path.split(".");
    if (!(head! in this.vars)) throw new Error(`unknown reference \${${path}}`);
    let v: Json = this.vars[head!]!;
    for (const p of rest) {
      v = Array.isArray(v) ? v[Number(p)]! : (v as Obj)[p]!;
      if (v === undefined) throw new Error(`reference \${${path}}: no ${p}`);
    }
    return v;
  }
}

function equal(a: Json, b: Json): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export function match(exp: Json, act: Json | undefined, where: string): void {
  const a = act === undefined ? null : act;
  if (exp !== null && typeof exp === "object" && !Array.isArray(exp)) {
    const keys = Object.keys(exp);
    if (keys.some((k) => k.startsWith("$"))) {
      for (const k of keys) matchOp(k, exp[k]!, a, where);
      return;
    }
    if (a === null || typeof a !== "object" || Array.isArray(a)) throw new ContractFailure(`${where}: want an object, got ${JSON.stringify(a)}`);
    for (const k of keys) match(exp[k]!, (a as Obj)[k], `${where}.${k}`);
    return;
  }
  if (Array.isArray(exp)) {
    if (!Array.isArray(a) || a.length !== exp.length) throw new ContractFailure(`${where}: want ${exp.length} items, got ${JSON.stringify(a)}`);
    exp.forEach((e, i) => match(e, a[i], `${where}[${i}]`));
    return;
  }
  if (!equal(exp, a)) throw new ContractFailure(`${where}: want ${JSON.stringify(exp)}, got ${JSON.stringify(a)}`);
}

function matches(exp: Json, act: Json): boolean {
  try {
    match(exp, act, "");
    return true;
  } catch {
    return false;
  }
}

function matchOp(op: string, arg: Json, act: Json, where: string): void {
  let ok: boolean;
  switch (op) {
    case "$exists":
      ok = (act !== null) === arg;
      break;
    case "$ne":
      ok = !equal(arg, act);
      break;
    case "$prefix":
      ok = typeof act === "string" && act.startsWith(arg as string);
      break;
    case "$contains":
      if (typeof arg === "string") {
        ok = typeof act === "string" && act.includes(arg);
      } else {
        ok = Array.isArray(act);
        if (ok) {
          for (const want of arg as Json[]) {
            if (!(act as Json[]).some((it) => matches(want, it))) {
              throw new ContractFailure(`${where}: no item matches ${JSON.stringify(want)} in ${JSON.stringify(act)}`);
            }
          }
        }
      }
      break;
    case "$every":
      ok = Array.isArray(act);
      if (ok) (act as Json[]).forEach((it, i) => match(arg, it, `${where}[${i}]`));
      break;
    case "$notContains":
      ok = typeof act === "string" && !act.includes(arg as string);
      break;
    case "$len":
      ok = (Array.isArray(act) || typeof act === "string") && act.length === arg;
      break;
    case "$gte":
      ok = typeof act === "number" && act >= (arg as number);
      break;
    default:
      throw new Error(`${where}: unknown matcher ${op}`);
  }
  if (!ok) throw new ContractFailure(`${where}: want ${op} ${JSON.stringify(arg)}, got ${JSON.stringify(act)}`);
}
