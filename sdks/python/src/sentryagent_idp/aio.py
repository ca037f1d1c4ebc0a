"""The asynchronous client (httpx.AsyncClient; asyncio or trio through anyio).
client.py is its synchronous twin, method for method: both build the same
calls (_core.py)."""

from __future__ import annotations

import copy
import time
from datetime import datetime
from typing import AsyncIterator, Awaitable, Callable, Dict, List, Optional, TypeVar, Union

import anyio
import httpx

from . import _core
from ._secret import Secret, secret_of
from .errors import AgentIdPError, error_from_response
from .models import Agent, AuditCheckpoint, AuditEvent, ChainVerification, Credential, Introspection, IssuedCredential, Page, TokenResponse

T = TypeVar("T")


class _Flight:
    """One token request that several tasks wait for."""

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.token: Optional[Secret] = None
        self.error: Optional[BaseException] = None


class AsyncTokenManager:
    """The async TokenManager: tasks that find no usable token share one
    token request (single flight), and its error if it fails. ``clock``
    (monotonic seconds) is for tests."""

    def __init__(self, fetch: Callable[[], Awaitable[TokenResponse]],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._fetch = fetch
        self._clock = clock
        self._token: Optional[Secret] = None
        self._renew_at = 0.0
        self._flight: Optional[_Flight] = None

    async def token(self) -> Secret:
        # No lock needed: nothing below awaits before the flight is set.
        start = self._clock()
        if self._token is not None and start < self._renew_at:
            return self._token
        flight = self._flight
        if flight is None:
            flight = self._flight = _Flight()
            try:
                resp = await self._fetch()
                self._token, self._renew_at = resp.access_token, _core.renew_at(start, resp.expires_in)
                flight.token = resp.access_token
            except BaseException as e:
                flight.error = e
                raise
            finally:
                self._flight = None
                flight.done.set()
        else:
            await flight.done.wait()
            if flight.error is not None:
                if not isinstance(flight.error, Exception):  # the leader was cancelled: try again
                    return await self.token()
                raise copy.copy(flight.error)
        assert flight.token is not None
        return flight.token

    def clear(self) -> None:
        self._token, self._renew_at = None, 0.0

    def invalidate(self, token: Secret) -> None:
        if self._token == token:
            self._token, self._renew_at = None, 0.0

    def __repr__(self) -> str:
        return f"AsyncTokenManager(cached={self._token is not None})"


class AsyncAgentIdPClient:
    """The AgentIdP API as ``client_id``, for async code. Use as an async
    context manager or call ``aclose()``. Arguments as AgentIdPClient."""

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: Union[str, Secret],
        scopes: Optional[List[str]] = None,
        *,
        timeout: float = 30.0,
        max_retries: int = 3,
        max_retry_after: float = 30.0,
        user_agent: Optional[str] = None,
        http_client: Optional[httpx.AsyncClient] = None,
    ) -> None:
        if not base_url or not client_id or not client_secret:
            raise ValueError("base_url, client_id and client_secret are required")
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self._secret = secret_of(client_secret)
        self.scopes = list(scopes) if scopes else None
        self._timeout = timeout
        self._retry = _core.RetryPolicy(max_retries=max(0, max_retries), max_retry_after=max_retry_after)
        self._user_agent = _core.user_agent(user_agent)
        self._own_http = http_client is None
        self._http = http_client or httpx.AsyncClient()
        self.token_manager = AsyncTokenManager(lambda: self._send(_core.tokens_issue(self.scopes)))
        self.agents = AsyncAgents(self)
        self.credentials = AsyncCredentials(self)
        self.tokens = AsyncTokens(self)
        self.audit = AsyncAudit(self)

    def clear_token_cache(self) -> None:
        """Drops the cached access token: the next call gets a new one."""
        self.token_manager.clear()

    async def aclose(self) -> None:
        if self._own_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncAgentIdPClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"AsyncAgentIdPClient(base_url={self.base_url!r}, client_id={self.client_id!r})"

    async def _send(self, call: _core.Call[T]) -> T:
        refreshed = False
        attempt = 0
        while True:
            headers = {"User-Agent": self._user_agent, "Accept": "application/json"}
            bearer: Optional[Secret] = None
            if call.auth == "bearer":
                bearer = await self.token_manager.token()
                headers["Authorization"] = f"Bearer {bearer.reveal()}"
            else:
                headers["Authorization"] = _core.basic_auth(self.client_id, self._secret)
            try:
                resp = await self._http.request(
                    call.method, self.base_url + call.path, params=call.params, json=call.json,
                    data=call.form, headers=headers, timeout=self._timeout,
                )
            except httpx.TimeoutException as e:
                raise AgentIdPError("DEADLINE_EXCEEDED", f"no answer within {self._timeout}s") from e
            except httpx.TransportError as e:
                raise AgentIdPError("UNAVAILABLE", f"the request failed: {type(e).__name__}: {e}") from e
            if 200 <= resp.status_code < 300:
                try:
                    return call.parse(resp.json() if resp.content.strip() else None)
                except ValueError as e:
                    raise AgentIdPError("INTERNAL", f"the response is not the JSON this SDK expects: {e}",
                                        resp.status_code, request_id=resp.headers.get("x-request-id")) from None
            err = error_from_response(resp.status_code, resp.headers, resp.content)
            if bearer is not None and not refreshed and _core.token_rejected(resp.status_code, resp.headers, err):
                refreshed = True
                self.token_manager.invalidate(bearer)
                continue
            delay = self._retry.delay(call, attempt, err)
            if delay is None:
                raise err
            await anyio.sleep(delay)
            attempt += 1


async def _iterate(page: Callable[[Optional[str]], Awaitable[Page[T]]]) -> AsyncIterator[T]:
    token: Optional[str] = None
    while True:
        p = await page(token)
        for item in p.items:
            yield item
        if not p.next_page_token:
            return
        token = p.next_page_token


class AsyncAgents:
    """Agents and their lifecycle (/v1/agents). A caller without platform:admin reaches only its
    own owner's agents: another owner's agent raises AgentIdPError AGENT_NOT_FOUND (404), as one
    that does not exist would."""

    def __init__(self, client: AsyncAgentIdPClient) -> None:
        self._c = client

    async def register(
        self,
        name: str,
        *,
        owner: Optional[str] = None,
        description: Optional[str] = None,
        agent_type: Optional[str] = None,
        version: Optional[str] = None,
        capabilities: Optional[List[str]] = None,
        scopes: Optional[List[str]] = None,
        deployment_env: Optional[str] = None,
        metadata: Optional[Dict[str, str]] = None,
        request_id: Optional[str] = None,
    ) -> Agent:
        fields = dict(name=name, owner=owner, description=description, agent_type=agent_type, version=version,
                      capabilities=capabilities, scopes=scopes, deployment_env=deployment_env, metadata=metadata)
        return await self._c._send(_core.agents_register(fields, request_id))

    async def get(self, agent_id: str) -> Agent:
        return await self._c._send(_core.agents_get(agent_id))

    async def list_page(
        self, *, status: Optional[str] = None, owner: Optional[str] = None, agent_type: Optional[str] = None,
        search: Optional[str] = None, page_size: Optional[int] = None, page_token: Optional[str] = None,
    ) -> Page[Agent]:
        return await self._c._send(_core.agents_list(status, owner, agent_type, search, page_size, page_token))

    def list(
        self, *, status: Optional[str] = None, owner: Optional[str] = None, agent_type: Optional[str] = None,
        search: Optional[str] = None, page_size: Optional[int] = None,
    ) -> AsyncIterator[Agent]:
        """``async for agent in client.agents.list(...)``: pages are fetched lazily."""
        return _iterate(lambda t: self.list_page(status=status, owner=owner, agent_type=agent_type,
                                                 search=search, page_size=page_size, page_token=t))

    async def update(
        self,
        agent_id: str,
        *,
        etag: Optional[str] = None,
        name: Optional[str] = None,
        description: Optional[str] = None,
        agent_type: Optional[str] = None,
        version: Optional[str] = None,
        owner: Optional[str] = None,
        capabilities: Optional[List[str]] = None,
        scopes: Optional[List[str]] = None,
        deployment_env: Optional[str] = None,
        metadata: Optional[Dict[str, str]] = None,
    ) -> Agent:
        fields = dict(name=name, description=description, agent_type=agent_type, version=version, owner=owner,
                      capabilities=capabilities, scopes=scopes, deployment_env=deployment_env, metadata=metadata)
        return await self._c._send(_core.agents_update(agent_id, fields, etag))

    async def suspend(self, agent_id: str) -> Agent:
        return await self._c._send(_core.agents_update(agent_id, {}, None, status="suspended"))

    async def reactivate(self, agent_id: str) -> Agent:
        return await self._c._send(_core.agents_update(agent_id, {}, None, status="active"))

    async def decommission(self, agent_id: str) -> Agent:
        return await self._c._send(_core.agents_decommission(agent_id))


class AsyncCredentials:
    """Agents' client credentials (/v1/agents/{agentId}/credentials)."""

    def __init__(self, client: AsyncAgentIdPClient) -> None:
        self._c = client

    async def generate(self, agent_id: str, *, ttl_seconds: Optional[int] = None) -> IssuedCredential:
        return await self._c._send(_core.credentials_generate(agent_id, ttl_seconds))

    async def list_page(self, agent_id: str, *, page_size: Optional[int] = None,
                        page_token: Optional[str] = None) -> Page[Credential]:
        return await self._c._send(_core.credentials_list(agent_id, page_size, page_token))

    def list(self, agent_id: str, *, page_size: Optional[int] = None) -> AsyncIterator[Credential]:
        return _iterate(lambda t: self.list_page(agent_id, page_size=page_size, page_token=t))

    async def rotate(self, agent_id: str, credential_id: str, *,
                     grace_period_seconds: Optional[int] = None) -> IssuedCredential:
        return await self._c._send(_core.credentials_rotate(agent_id, credential_id, grace_period_seconds))

    async def revoke(self, agent_id: str, credential_id: str) -> Credential:
        return await self._c._send(_core.credentials_revoke(agent_id, credential_id))


class AsyncTokens:
    """OAuth 2.0: tokens for the client's own identity, introspection, revocation."""

    def __init__(self, client: AsyncAgentIdPClient) -> None:
        self._c = client

    async def issue(self, scopes: Optional[List[str]] = None) -> TokenResponse:
        return await self._c._send(_core.tokens_issue(scopes if scopes is not None else self._c.scopes))

    async def introspect(self, token: Union[str, Secret]) -> Introspection:
        return await self._c._send(_core.tokens_introspect(token))

    async def revoke(self, token: Union[str, Secret]) -> None:
        await self._c._send(_core.tokens_revoke(token))
        self._c.token_manager.invalidate(secret_of(token))


class AsyncAudit:
    """The audit log (/v1/audit; scope audit:read)."""

    def __init__(self, client: AsyncAgentIdPClient) -> None:
        self._c = client

    async def query_page(
        self, *, agent_id: Optional[str] = None, action: Optional[str] = None, outcome: Optional[str] = None,
        actor: Optional[str] = None, start_time: Optional[datetime] = None, end_time: Optional[datetime] = None,
        page_size: Optional[int] = None, page_token: Optional[str] = None, owner: Optional[str] = None,
    ) -> Page[AuditEvent]:
        return await self._c._send(_core.audit_query(agent_id, action, outcome, actor, start_time, end_time,
                                                     page_size, page_token, owner))

    def query(
        self, *, agent_id: Optional[str] = None, action: Optional[str] = None, outcome: Optional[str] = None,
        actor: Optional[str] = None, start_time: Optional[datetime] = None, end_time: Optional[datetime] = None,
        page_size: Optional[int] = None, owner: Optional[str] = None,
    ) -> AsyncIterator[AuditEvent]:
        return _iterate(lambda t: self.query_page(agent_id=agent_id, action=action, outcome=outcome, actor=actor,
                                                  start_time=start_time, end_time=end_time, page_size=page_size,
                                                  page_token=t, owner=owner))

    async def get(self, event_id: str) -> AuditEvent:
        return await self._c._send(_core.audit_get(event_id))

    async def verify(self, *, from_sequence: Optional[int] = None, to_sequence: Optional[int] = None) -> ChainVerification:
        """Recomputes the hash chain over the sequences from ``from_sequence``
        (None: the oldest kept) to ``to_sequence`` (None: the newest, and then
        the recorded head is checked too). Needs audit:read and platform:admin.
        A broken chain is a result (``ok`` False, ``first_break`` set)."""
        return await self._c._send(_core.audit_verify(from_sequence, to_sequence))

    async def checkpoints_page(
        self, *, from_sequence: Optional[int] = None, page_size: Optional[int] = None,
        page_token: Optional[str] = None,
    ) -> Page[AuditCheckpoint]:
        """One page of the chain's signed checkpoints at or after
        ``from_sequence``, oldest first. Needs audit:read and platform:admin."""
        return await self._c._send(_core.audit_checkpoints(from_sequence, page_size, page_token))

    def checkpoints(
        self, *, from_sequence: Optional[int] = None, page_size: Optional[int] = None,
    ) -> AsyncIterator[AuditCheckpoint]:
        """Every signed checkpoint at or after ``from_sequence``, oldest first, fetched lazily."""
        return _iterate(lambda t: self.checkpoints_page(from_sequence=from_sequence, page_size=page_size,
                                                        page_token=t))


__all__ = ["AsyncAgentIdPClient", "AsyncTokenManager", "AsyncAgents", "AsyncCredentials", "AsyncTokens",
           "AsyncAudit"]
