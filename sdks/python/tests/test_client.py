"""What the live mesh cannot show deterministically, against a local fake
server: single flight, retry spacing, error shapes, redaction."""

from __future__ import annotations

import json
import pickle
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler
from typing import Dict, List, Tuple

import anyio
import pytest

from sentryagent_idp import AgentIdPClient, AgentIdPError, AsyncAgentIdPClient, Secret, __version__
from sentryagent_idp.errors import error_from_response
from sentryagent_idp.models import Credential, parse_time

from .conftest import FakeServer, agent_json, json_response


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _counting_agent_route(fake: FakeServer, seen: List[str]) -> None:
    lock = threading.Lock()

    def handler(h: BaseHTTPRequestHandler) -> Tuple[int, Dict[str, str], bytes]:
        with lock:
            seen.append(h.headers.get("Authorization", ""))
        return json_response(agent_json("a1"))

    fake.route("GET /v1/agents/a1", handler)


def test_single_flight_sync(fake: FakeServer) -> None:
    """100 concurrent calls that find the token expired: one token request."""
    fake.token_delay = 0.05
    seen: List[str] = []
    _counting_agent_route(fake, seen)
    client = AgentIdPClient(fake.url, "agent-1", "agentidp_sk_test")
    clock = Clock()
    client.token_manager._clock = clock
    client.token_manager.token()  # tok-1, valid for 900 s
    clock.now += 845  # within 60 s of expiry: must be replaced
    with ThreadPoolExecutor(max_workers=100) as pool:
        results = list(pool.map(lambda _: client.agents.get("a1"), range(100)))
    assert len(results) == 100
    assert fake.token_requests == 2
    assert set(seen) == {"Bearer tok-2"}
    client.close()


def test_single_flight_async(fake: FakeServer) -> None:
    fake.token_delay = 0.05
    seen: List[str] = []
    _counting_agent_route(fake, seen)

    async def main() -> None:
        async with AsyncAgentIdPClient(fake.url, "agent-1", "agentidp_sk_test") as client:
            clock = Clock()
            client.token_manager._clock = clock
            await client.token_manager.token()
            clock.now += 845
            async with anyio.create_task_group() as tg:
                for _ in range(100):
                    tg.start_soon(client.agents.get, "a1")

    anyio.run(main)
    assert fake.token_requests == 2
    assert set(seen) == {"Bearer tok-2"}


def test_single_flight_shares_the_error(fake: FakeServer) -> None:
    """100 threads whose token request fails: one request, one error each."""
    fake.token_delay = 0.2
    fake.token_status = 401
    _counting_agent_route(fake, [])
    client = AgentIdPClient(fake.url, "agent-1", "agentidp_sk_wrong")
    start = threading.Barrier(100)

    def call(_: int) -> str:
        start.wait()
        try:
            client.agents.get("a1")
        except AgentIdPError as e:
            return e.code
        return "ok"

    with ThreadPoolExecutor(max_workers=100) as pool:
        codes = list(pool.map(call, range(100)))
    assert codes == ["invalid_client"] * 100
    assert fake.token_requests == 1
    client.close()


def test_token_cache_and_clear(fake: FakeServer) -> None:
    _counting_agent_route(fake, [])
    with AgentIdPClient(fake.url, "agent-1", "agentidp_sk_test") as client:
        for _ in range(3):
            client.agents.get("a1")
        assert fake.token_requests == 1
        client.clear_token_cache()
        client.agents.get("a1")
        assert fake.token_requests == 2


def test_short_lived_token_refreshes_at_half_life(fake: FakeServer) -> None:
    fake.expires_in = 30
    with AgentIdPClient(fake.url, "agent-1", "agentidp_sk_test") as client:
        clock = Clock()
        client.token_manager._clock = clock
        t1 = client.token_manager.token()
        clock.now += 14
        assert client.token_manager.token() == t1
        clock.now += 2
        assert client.token_manager.token() != t1


def test_invalid_token_gets_one_retry(fake: FakeServer) -> None:
    def handler(h: BaseHTTPRequestHandler) -> Tuple[int, Dict[str, str], bytes]:
        if h.headers["Authorization"] == "Bearer tok-1":
            return json_response(b'{"code":16,"message":"revoked","details":[{"@type":"type.googleapis.com/'
                                 b'google.rpc.ErrorInfo","reason":"INVALID_TOKEN"}]}', 401,
                                 {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        return json_response(agent_json("a1"))

    fake.route("GET /v1/agents/a1", handler)
    with AgentIdPClient(fake.url, "agent-1", "agentidp_sk_test") as client:
        assert client.agents.get("a1").agent_id == "a1"
    assert fake.token_requests == 2


@pytest.mark.parametrize("status,body,headers,code,message,retry_after", [
    (404, b'{"code":5,"message":"agent x not found","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo",'
          b'"reason":"AGENT_NOT_FOUND","domain":"agentidp.dev"}]}', {}, "AGENT_NOT_FOUND", "agent x not found", None),
    (503, b'{"code":14,"message":"down"}', {}, "UNAVAILABLE", "down", None),
    (401, b'{"error":"invalid_client","error_description":"client authentication failed"}', {},
     "invalid_client", "client authentication failed", None),
    (429, b'{"error":"temporarily_unavailable"}', {"retry-after": "2"}, "temporarily_unavailable",
     "Too Many Requests", 2.0),
    (502, b"<html>bad gateway</html>", {}, "INTERNAL", "Bad Gateway", None),
])
def test_error_shapes(status: int, body: bytes, headers: Dict[str, str], code: str, message: str,
                      retry_after: float) -> None:
    e = error_from_response(status, headers, body)
    assert (e.code, e.message, e.http_status, e.retry_after) == (code, message, status, retry_after)


def test_retry_after_is_honoured_and_register_keeps_its_request_id(fake: FakeServer) -> None:
    calls: List[str] = []

    def handler(h: BaseHTTPRequestHandler) -> Tuple[int, Dict[str, str], bytes]:
        calls.append(h.path)
        if len(calls) == 1:
            return json_response(b'{"code":8,"message":"slow down","details":[{"@type":"type.googleapis.com/'
                                 b'google.rpc.ErrorInfo","reason":"RATE_LIMITED"}]}', 429, {"Retry-After": "1"})
        return json_response(agent_json("a1"), 201)

    fake.route("POST /v1/agents", handler)
    with AgentIdPClient(fake.url, "agent-1", "agentidp_sk_test") as client:
        start = time.monotonic()
        client.agents.register("a")
        assert time.monotonic() - start >= 1.0
    assert len(calls) == 2 and calls[0] == calls[1] and "requestId=" in calls[0]


def test_no_retry_for_credential_create(fake: FakeServer) -> None:
    calls: List[str] = []

    def handler(h: BaseHTTPRequestHandler) -> Tuple[int, Dict[str, str], bytes]:
        calls.append(h.path)
        return json_response(b'{"code":14,"message":"unavailable"}', 503)

    fake.route("POST /v1/agents/a1/credentials", handler)
    with AgentIdPClient(fake.url, "agent-1", "agentidp_sk_test") as client:
        with pytest.raises(AgentIdPError) as info:
            client.credentials.generate("a1")
    assert info.value.http_status == 503 and len(calls) == 1


def test_retries_give_up(fake: FakeServer) -> None:
    calls: List[str] = []

    def handler(h: BaseHTTPRequestHandler) -> Tuple[int, Dict[str, str], bytes]:
        calls.append(h.path)
        return 503, {}, b""

    fake.route("GET /v1/agents/a1", handler)
    with AgentIdPClient(fake.url, "agent-1", "agentidp_sk_test", max_retries=2) as client:
        client._retry = type(client._retry)(max_retries=2, backoff=0.01)
        with pytest.raises(AgentIdPError) as info:
            client.agents.get("a1")
    assert info.value.code == "UNAVAILABLE" and len(calls) == 3


def test_transport_errors() -> None:
    with AgentIdPClient("http://127.0.0.1:1", "a", "s") as client:
        with pytest.raises(AgentIdPError) as info:
            client.agents.get("a1")
    assert info.value.code == "UNAVAILABLE" and info.value.http_status == 0 and info.value.__cause__ is not None


def test_request_shape(fake: FakeServer) -> None:
    bodies: List[bytes] = []

    def handler(h: BaseHTTPRequestHandler) -> Tuple[int, Dict[str, str], bytes]:
        bodies.append(h.rfile.read(int(h.headers["Content-Length"])))
        return json_response(agent_json("a 1"))

    fake.route("PATCH /v1/agents/a%201", handler)
    with AgentIdPClient(fake.url, "agent-1", "agentidp_sk_test", user_agent="my-app/2") as client:
        client.agents.update("a 1", description="", scopes=[], etag="7")
        with pytest.raises(AgentIdPError) as info:
            client.agents.get("")
        assert info.value.code == "INVALID_ARGUMENT"
    method, path, headers = fake.requests[-1]
    assert path == "/v1/agents/a%201?updateMask=description%2Cscopes"
    assert json.loads(bodies[0]) == {"description": "", "scopes": [], "etag": "7"}
    assert headers["User-Agent"].startswith(f"my-app/2 sentryagent-idp-python/{__version__}")
    token_request = next(h for m, p, h in fake.requests if p == "/oauth2/token")
    assert token_request["Authorization"].startswith("Basic ")


def test_secret_never_printed() -> None:
    s = Secret("agentidp_sk_abc")
    for text in (repr(s), str(s), f"{s}", f"{s!r}", "%s" % s):
        assert "abc" not in text
    assert s.reveal() == "agentidp_sk_abc"
    with pytest.raises(TypeError):
        pickle.dumps(s)
    with AgentIdPClient("http://127.0.0.1:1", "a", "agentidp_sk_abc") as client:
        assert "abc" not in repr(client) and "abc" not in repr(vars(client))


def test_models() -> None:
    t = parse_time("2026-01-02T03:04:05.123456789Z")
    assert t is not None and t.microsecond == 123456 and t.utcoffset() is not None
    c = Credential.from_json({"credentialId": "c", "agentId": "a", "clientId": "a", "status": "active",
                              "secretVersion": "2", "expiresAt": "2026-01-02T03:04:05+02:00"})
    assert c.secret_version == 2 and c.expires_at is not None
    assert c.to_dict()["secretVersion"] == 2


def test_audit_verify_and_checkpoints(fake: FakeServer) -> None:
    """verify and checkpoints: the query each sends, string int64s parsed,
    checkpoints paged to the end (sync and async), a bad range refused
    before any request."""
    fake.route("GET /v1/audit/verify", lambda h: json_response(json.dumps({
        "ok": False, "fromSequence": "1", "toSequence": "9", "eventsChecked": "9",
        "checkpointsChecked": "2", "checkpointedThrough": "8",
        "firstBreak": {"sequence": "9", "eventId": "e9", "kind": "hash_mismatch", "expected": "aa", "actual": "bb"},
    }).encode()))

    def checkpoints(h: BaseHTTPRequestHandler) -> Tuple[int, Dict[str, str], bytes]:
        cp = {"sequence": "4", "hash": "h4", "keyId": "k", "algorithm": "ed25519", "signature": "c2ln",
              "signedAt": "2026-01-02T03:04:05Z"}
        if "pageToken=p2" in h.path:
            return json_response(json.dumps({"checkpoints": [dict(cp, sequence="8", hash="h8")]}).encode())
        return json_response(json.dumps({"checkpoints": [cp], "nextPageToken": "p2"}).encode())

    fake.route("GET /v1/audit/checkpoints", checkpoints)
    with AgentIdPClient(fake.url, "agent-1", "agentidp_sk_test") as client:
        v = client.audit.verify(from_sequence=1, to_sequence=9)
        assert fake.requests[-1][1] == "/v1/audit/verify?fromSequence=1&toSequence=9"
        assert not v.ok and v.events_checked == 9 and v.checkpoints_checked == 2 and v.checkpointed_through == 8
        assert v.first_break is not None and v.first_break.sequence == 9 and v.first_break.kind == "hash_mismatch"
        client.audit.verify()
        assert fake.requests[-1][1] == "/v1/audit/verify"
        page = client.audit.checkpoints_page(from_sequence=3, page_size=1)
        assert fake.requests[-1][1] == "/v1/audit/checkpoints?fromSequence=3&pageSize=1"
        assert page.next_page_token == "p2" and page.items[0].sequence == 4
        assert page.items[0].signed_at is not None and page.items[0].algorithm == "ed25519"
        assert [c.sequence for c in client.audit.checkpoints(from_sequence=3)] == [4, 8]
        for bad in ({"from_sequence": -1}, {"from_sequence": 5, "to_sequence": 2}):
            with pytest.raises(AgentIdPError) as info:
                client.audit.verify(**bad)
            assert info.value.code == "INVALID_ARGUMENT"
        with pytest.raises(AgentIdPError):
            client.audit.checkpoints_page(from_sequence=-1)

    async def run() -> None:
        async with AsyncAgentIdPClient(fake.url, "agent-1", "agentidp_sk_test") as client:
            assert (await client.audit.verify()).checkpointed_through == 8
            assert [c.sequence async for c in client.audit.checkpoints()] == [4, 8]

    anyio.run(run)
