"""The interpreter of the language-neutral contract suite (sdks/contract/README.md),
for both the sync and the async client."""

from __future__ import annotations

import inspect
import json
import re
import secrets as _random
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Union

import anyio

from sentryagent_idp import AgentIdPClient, AgentIdPError, AsyncAgentIdPClient, Secret

SCENARIOS = Path(__file__).resolve().parents[2] / "contract" / "scenarios"

Client = Union[AgentIdPClient, AsyncAgentIdPClient]

_REF = re.compile(r"\$\{([^}]+)\}")

_STEP_KEYS = {"op", "as", "args", "save", "expect", "expectError", "eventually", "repeat", "comment"}
_SCENARIO_KEYS = {"name", "description", "requires", "steps"}
_AGENT_FIELDS = {"name": "name", "description": "description", "agentType": "agent_type", "version": "version",
                 "owner": "owner", "capabilities": "capabilities", "scopes": "scopes",
                 "deploymentEnv": "deployment_env", "metadata": "metadata"}


class ContractFailure(AssertionError):
    pass


def load(path: Path) -> Dict[str, Any]:
    data = json.loads(path.read_text())
    unknown = set(data) - _SCENARIO_KEYS
    if unknown:
        raise ContractFailure(f"{path.name}: unknown keys {sorted(unknown)}")
    for i, step in enumerate(data["steps"]):
        unknown = set(step) - _STEP_KEYS
        if unknown:
            raise ContractFailure(f"{path.name} step {i + 1}: unknown keys {sorted(unknown)}")
    return data  # type: ignore[no-any-return]


async def _maybe(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


async def _collect(items: Any, limit: int) -> List[Any]:
    out: List[Any] = []
    if hasattr(items, "__aiter__"):
        async for item in items:
            out.append(item)
            if limit and len(out) >= limit:
                break
    else:
        for item in items:
            out.append(item)
            if limit and len(out) >= limit:
                break
    return out


def plain(value: Any) -> Any:
    """The JSON view of a result: camelCase, secrets revealed."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, Secret):
        return value.reveal()
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return plain(value.to_dict())


class Runner:
    def __init__(self, make_client: Callable[..., Client], env: Dict[str, str]) -> None:
        self.make_client = make_client
        self.env = env
        self.vars: Dict[str, Any] = {"run": _random.token_hex(4)}
        self.secrets: List[str] = [env["secret"]]
        self.clients: Dict[str, Client] = {"admin": make_client(env["url"], env["client_id"], env["secret"])}

    async def close(self) -> None:
        for c in self.clients.values():
            if isinstance(c, AsyncAgentIdPClient):
                await c.aclose()
            else:
                c.close()

    async def run(self, scenario: Dict[str, Any]) -> None:
        try:
            for i, step in enumerate(scenario["steps"]):
                try:
                    await self.step(step)
                except ContractFailure as e:
                    raise ContractFailure(f"step {i + 1} ({step['op']}) {step.get('comment', '')}: {e}") from None
        finally:
            await self.close()

    async def step(self, step: Dict[str, Any]) -> None:
        args = self.interpolate(step.get("args") or {})
        expect = self.interpolate(step["expect"]) if "expect" in step else None
        expect_error = self.interpolate(step["expectError"]) if "expectError" in step else None
        deadline = time.monotonic() + step.get("eventually", {}).get("timeoutMs", 0) / 1000
        while True:
            try:
                view = await self.attempt(step, args, expect, expect_error)
                if "save" in step:
                    self.vars[step["save"]] = view
                return
            except ContractFailure:
                if time.monotonic() > deadline:
                    raise
                await anyio.sleep(0.2)

    async def attempt(self, step: Dict[str, Any], args: Dict[str, Any], expect: Any, expect_error: Any) -> Any:
        if "repeat" in step:
            for _ in range(step["repeat"]["max"]):
                try:
                    await self.execute(step, args)
                except AgentIdPError as e:
                    self.check_error(e, expect_error)
                    return None
            raise ContractFailure(f"no error after {step['repeat']['max']} calls")
        try:
            result = await self.execute(step, args)
        except AgentIdPError as e:
            if "expectError" not in step:
                raise ContractFailure(f"unexpected error: {e!r}") from e
            self.check_error(e, expect_error)
            return None
        if "expectError" in step:
            raise ContractFailure(f"expected an error, got {result!r}")
        if step["op"] != "check":
            self.check_no_secret(f"{result!r} {result}")
        view = plain(result)
        if "expect" in step:
            match(expect, view, "result")
        return view

    def check_no_secret(self, text: str) -> None:
        for s in self.secrets:
            if s and s in text:
                raise AssertionError(f"a secret appears in the string form of a result or error: {text}")

    def check_error(self, e: AgentIdPError, expect: Any) -> None:
        self.check_no_secret(f"{e} {e!r} {e.args}")
        view = {"code": e.code, "message": e.message, "httpStatus": e.http_status, "details": e.details,
                "retryAfter": e.retry_after}
        if expect is not None:
            try:
                match(expect, view, "error")
            except ContractFailure as f:
                raise ContractFailure(f"{f} (the error: {e!r})") from None

    async def execute(self, step: Dict[str, Any], a: Dict[str, Any]) -> Any:
        op = step["op"]
        if op == "client.new":
            allow(a, "name", "clientId", "clientSecret", "scopes", "maxRetries")
            kw: Dict[str, Any] = {}
            if "maxRetries" in a:
                kw["max_retries"] = a["maxRetries"]
            self.clients[a["name"]] = self.make_client(self.env["url"], a["clientId"], a["clientSecret"],
                                                       a.get("scopes"), **kw)
            self.secrets.append(a["clientSecret"])
            return None
        if op == "check":
            allow(a, "value")
            return a["value"]
        c = self.clients[step.get("as", "admin")]
        if op == "client.clearTokenCache":
            allow(a)
            c.clear_token_cache()
            return None
        if op == "agents.register":
            allow(a, "requestId", *_AGENT_FIELDS)
            fields = {_AGENT_FIELDS[k]: v for k, v in a.items() if k in _AGENT_FIELDS}
            if "name" not in fields:  # the server is what refuses it
                fields["name"] = ""
            return await _maybe(c.agents.register(request_id=a.get("requestId"), **fields))
        if op == "agents.get":
            allow(a, "agentId")
            return await _maybe(c.agents.get(a["agentId"]))
        if op == "agents.list":
            allow(a, "status", "owner", "agentType", "search", "pageSize", "limit")
            items = c.agents.list(status=a.get("status"), owner=a.get("owner"), agent_type=a.get("agentType"),
                                  search=a.get("search"), page_size=a.get("pageSize"))
            return await _collect(items, a.get("limit", 0))
        if op == "agents.update":
            allow(a, "agentId", "changes", "etag")
            changes = a["changes"]
            bad = set(changes) - set(_AGENT_FIELDS)
            if bad:
                raise ContractFailure(f"agents.update: unknown fields {sorted(bad)}")
            fields = {_AGENT_FIELDS[k]: v for k, v in changes.items()}
            return await _maybe(c.agents.update(a["agentId"], etag=a.get("etag"), **fields))
        if op in ("agents.suspend", "agents.reactivate", "agents.decommission"):
            allow(a, "agentId")
            return await _maybe(getattr(c.agents, op.split(".")[1])(a["agentId"]))
        if op == "credentials.generate":
            allow(a, "agentId", "ttlSeconds")
            r = await _maybe(c.credentials.generate(a["agentId"], ttl_seconds=a.get("ttlSeconds")))
            self.secrets.append(r.client_secret.reveal())
            return r
        if op == "credentials.list":
            allow(a, "agentId", "pageSize", "limit")
            return await _collect(c.credentials.list(a["agentId"], page_size=a.get("pageSize")), a.get("limit", 0))
        if op == "credentials.rotate":
            allow(a, "agentId", "credentialId", "gracePeriodSeconds")
            r = await _maybe(c.credentials.rotate(a["agentId"], a["credentialId"],
                                                  grace_period_seconds=a.get("gracePeriodSeconds")))
            self.secrets.append(r.client_secret.reveal())
            return r
        if op == "credentials.revoke":
            allow(a, "agentId", "credentialId")
            return await _maybe(c.credentials.revoke(a["agentId"], a["credentialId"]))
        if op == "tokens.issue":
            allow(a, "scopes")
            r = await _maybe(c.tokens.issue(a.get("scopes")))
            self.secrets.append(r.access_token.reveal())
            return r
        if op == "tokens.introspect":
            allow(a, "token")
            return await _maybe(c.tokens.introspect(a["token"]))
        if op == "tokens.revoke":
            allow(a, "token")
            return await _maybe(c.tokens.revoke(a["token"]))
        if op == "audit.query":
            allow(a, "agentId", "action", "outcome", "actor", "owner", "pageSize", "limit")
            events = c.audit.query(agent_id=a.get("agentId"), action=a.get("action"), outcome=a.get("outcome"),
                                   actor=a.get("actor"), owner=a.get("owner"), page_size=a.get("pageSize"))
            return await _collect(events, a.get("limit", 0))
        if op == "audit.get":
            allow(a, "eventId")
            return await _maybe(c.audit.get(a["eventId"]))
        if op == "audit.verify":
            allow(a, "fromSequence", "toSequence")
            return await _maybe(c.audit.verify(from_sequence=a.get("fromSequence"), to_sequence=a.get("toSequence")))
        if op == "audit.checkpoints":
            allow(a, "fromSequence", "limit")
            return await _collect(c.audit.checkpoints(from_sequence=a.get("fromSequence")), a.get("limit", 0))
        raise AssertionError(f"unknown op {op!r}")

    def interpolate(self, value: Any) -> Any:
        if isinstance(value, str):
            m = _REF.fullmatch(value)
            if m:
                return self.lookup(m.group(1))
            return _REF.sub(lambda m: _fmt(self.lookup(m.group(1))), value)
        if isinstance(value, dict):
            return {k: self.interpolate(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.interpolate(v) for v in value]
        return value

    def lookup(self, path: str) -> Any:
        head, *rest = path.split(".")
        if head not in self.vars:
            raise AssertionError(f"unknown reference ${{{path}}}")
        v = self.vars[head]
        for p in rest:
            v = v[int(p)] if isinstance(v, list) else v[p]
        return v


def _fmt(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def allow(a: Dict[str, Any], *keys: str) -> None:
    unknown = set(a) - set(keys)
    if unknown:
        raise AssertionError(f"unknown arguments {sorted(unknown)}")


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    return bool(a == b)


def match(exp: Any, act: Any, where: str) -> None:
    if isinstance(exp, dict) and any(k.startswith("$") for k in exp):
        for op, arg in exp.items():
            _match_op(op, arg, act, where)
        return
    if isinstance(exp, dict):
        if not isinstance(act, dict):
            raise ContractFailure(f"{where}: want an object, got {act!r}")
        for k, sub in exp.items():
            match(sub, act.get(k), f"{where}.{k}")
        return
    if isinstance(exp, list):
        if not isinstance(act, list) or len(act) != len(exp):
            raise ContractFailure(f"{where}: want {len(exp)} items, got {act!r}")
        for i, (e, x) in enumerate(zip(exp, act)):
            match(e, x, f"{where}[{i}]")
        return
    if not _equal(exp, act):
        raise ContractFailure(f"{where}: want {exp!r}, got {act!r}")


def _matches(exp: Any, act: Any) -> bool:
    try:
        match(exp, act, "")
        return True
    except ContractFailure:
        return False


def _match_op(op: str, arg: Any, act: Any, where: str) -> None:
    ok: bool
    if op == "$exists":
        ok = (act is not None) == arg
    elif op == "$ne":
        ok = not _equal(arg, act)
    elif op == "$prefix":
        ok = isinstance(act, str) and act.startswith(arg)
    elif op == "$contains":
        if isinstance(arg, str):
            ok = isinstance(act, str) and arg in act
        else:
            ok = isinstance(act, list)
            if ok:
                for want in arg:
                    if not any(_matches(want, item) for item in act):
                        raise ContractFailure(f"{where}: no item matches {want!r} in {act!r}")
    elif op == "$every":
        ok = isinstance(act, list)
        if ok:
            for i, item in enumerate(act):
                match(arg, item, f"{where}[{i}]")
    elif op == "$notContains":
        ok = isinstance(act, str) and arg not in act
    elif op == "$len":
        ok = isinstance(act, (list, str)) and len(act) == arg
    elif op == "$gte":
        ok = isinstance(act, (int, float)) and not isinstance(act, bool) and act >= arg
    else:
        raise AssertionError(f"{where}: unknown matcher {op}")
    if not ok:
        raise ContractFailure(f"{where}: want {op} {arg!r}, got {act!r}")


def scenario_files() -> List[Path]:
    return sorted(SCENARIOS.glob("*.json"))


def run_scenario(make_client: Callable[..., Client], env: Dict[str, str], scenario: Dict[str, Any],
                 timeout: Optional[float] = None) -> None:
    anyio.run(Runner(make_client, env).run, scenario)
