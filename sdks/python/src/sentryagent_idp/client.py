"""The synchronous client (httpx.Client); aio.py is its async twin."""

from __future__ import annotations

import copy
import threading
import time
from datetime import datetime
from typing import Callable, Dict, Iterator, List, Optional, TypeVar, Union

import httpx

from . import _core
from ._secret import Secret, secret_of
from .errors import AgentIdPError, error_from_response
from .models import Agent, AuditCheckpoint, AuditEvent, ChainVerification, Credential, Introspection, IssuedCredential, Page, TokenResponse

T = TypeVar("T")


class _Flight:
    """One token request that several callers wait for."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.token: Optional[Secret] = None
        self.error: Optional[BaseException] = None


class TokenManager:
    """Gets the client's access token with client_credentials, caches it, and
    replaces it 60 s before it expires. Threads that find no usable token
    share one token request (single flight), and its error if it fails.
    Thread-safe.

    ``clock`` (monotonic seconds) is for tests."""

    def __init__(self, fetch: Callable[[], TokenResponse], clock: Callable[[], float] = time.monotonic) -> None:
        self._fetch = fetch
        self._clock = clock
        self._lock = threading.Lock()
        self._token: Optional[Secret] = None
        self._renew_at = 0.0
        self._flight: Optional[_Flight] = None

    def token(self) -> Secret:
        with self._lock:
            start = self._clock()
            if self._token is not None and start < self._renew_at:
                return self._token
            flight = self._flight
            leader = flight is None
            if flight is None:
                flight = self._flight = _Flight()
        if leader:
            try:
                resp = self._fetch()
                with self._lock:
                    self._token, self._renew_at = resp.access_token, _core.renew_at(start, resp.expires_in)
                flight.token = resp.access_token
            except BaseException as e:
                flight.error = e
            finally:
                with self._lock:
                    self._flight = None
                flight.done.set()
        else:
            flight.done.wait()
        if flight.error is not None:
            if leader:
                raise flight.error
            if not isinstance(flight.error, Exception):  # the leader was interrupted: try again
                return self.token()
            raise copy.copy(flight.error)
        assert flight.token is not None
        return flight.token

    def clear(self) -> None:
        with self._lock:
            self._token, self._renew_at = None, 0.0

    def invalidate(self, token: Secret) -> None:
        """Drops the cached token if it is still ``token`` (one the server refused)."""
        with self._lock:
            if self._token == token:
                self._token, self._renew_at = None, 0.0

    def __repr__(self) -> str:
        return f"TokenManager(cached={self._token is not None})"


class AgentIdPClient:
    """The AgentIdP API as ``client_id``. Thread-safe; create one per identity
    and reuse it (it caches its access token). Use as a context manager or
    call ``close()``.

    ``scopes``: what the client's token asks for (default: every scope the
    agent holds). ``timeout`` bounds each attempt (seconds); ``max_retries``
    applies to 429/503 on calls that are safe to repeat (0: none)."""

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
        http_client: Optional[httpx.Client] = None,
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
        self._http = http_client or httpx.Client()
        self.token_manager = TokenManager(lambda: self._send(_core.tokens_issue(self.scopes)))
        self.agents = Agents(self)
        self.credentials = Credentials(self)
        self.tokens = Tokens(self)
        self.audit = Audit(self)

    def clear_token_cache(self) -> None:
        """Drops the cached access token: the next call gets a new one."""
        self.token_manager.clear()

    def close(self) -> None:
        if self._own_http:
            self._http.close()

    def __enter__(self) -> AgentIdPClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"AgentIdPClient(base_url={self.base_url!r}, client_id={self.client_id!r})"

    def _send(self, call: _core.Call[T]) -> T:
        refreshed = False
        attempt = 0
        while True:
            headers = {"User-Agent": self._user_agent, "Accept": "application/json"}
            bearer: Optional[Secret] = None
            if call.auth == "bearer":
                bearer = self.token_manager.token()
                headers["Authorization"] = f"Bearer {bearer.reveal()}"
            else:
                headers["Authorization"] = _core.basic_auth(self.client_id, self._secret)
            try:
                resp = self._http.request(
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
            time.sleep(delay)
            attempt += 1


def _iterate(page: Callable[[Optional[str]], Page[T]]) -> Iterator[T]:
    token: Optional[str] = None
    while True:
        p = page(token)
        yield from p.items
        if not p.next_page_token:
            return
        token = p.next_page_token


class Agents:
    """Agents and their lifecycle (/v1/agents). A caller without platform:admin reaches only its
    own owner's agents: another owner's agent raises AgentIdPError AGENT_NOT_FOUND (404), as one
    that does not exist would."""

    def __init__(self, client: AgentIdPClient) -> None:
        self._c = client

    def register(
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
        """Registers an agent (status active). ``request_id`` makes it
        idempotent; without one the SDK generates one per call, so its own
        retries never register twice."""
        fields = dict(name=name, owner=owner, description=description, agent_type=agent_type, version=version,
                      capabilities=capabilities, scopes=scopes, deployment_env=deployment_env, metadata=metadata)
        return self._c._send(_core.agents_register(fields, request_id))

    def get(self, agent_id: str) -> Agent:
        return self._c._send(_core.agents_get(agent_id))

    def list_page(
        self, *, status: Optional[str] = None, owner: Optional[str] = None, agent_type: Optional[str] = None,
        search: Optional[str] = None, page_size: Optional[int] = None, page_token: Optional[str] = None,
    ) -> Page[Agent]:
        """One page, oldest first; pass ``next_page_token`` (same filters) for the next."""
        return self._c._send(_core.agents_list(status, owner, agent_type, search, page_size, page_token))

    def list(
        self, *, status: Optional[str] = None, owner: Optional[str] = None, agent_type: Optional[str] = None,
        search: Optional[str] = None, page_size: Optional[int] = None,
    ) -> Iterator[Agent]:
        """Every matching agent, fetching pages lazily as you iterate."""
        return _iterate(lambda t: self.list_page(status=status, owner=owner, agent_type=agent_type,
                                                 search=search, page_size=page_size, page_token=t))

    def update(
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
        """Sets the fields given (``""``/``[]``/``{}`` clear one; ``None``
        leaves it). With ``etag``, fails with ETAG_MISMATCH (409) if the agent
        changed since it was read."""
        fields = dict(name=name, description=description, agent_type=agent_type, version=version, owner=owner,
                      capabilities=capabilities, scopes=scopes, deployment_env=deployment_env, metadata=metadata)
        return self._c._send(_core.agents_update(agent_id, fields, etag))

    def suspend(self, agent_id: str) -> Agent:
        """Suspends the agent: its tokens stop working."""
        return self._c._send(_core.agents_update(agent_id, {}, None, status="suspended"))

    def reactivate(self, agent_id: str) -> Agent:
        return self._c._send(_core.agents_update(agent_id, {}, None, status="active"))

    def decommission(self, agent_id: str) -> Agent:
        """Ends the agent for good (credentials and tokens stop working); idempotent."""
        return self._c._send(_core.agents_decommission(agent_id))


class Credentials:
    """Agents' client credentials (/v1/agents/{agentId}/credentials)."""

    def __init__(self, client: AgentIdPClient) -> None:
        self._c = client

    def generate(self, agent_id: str, *, ttl_seconds: Optional[int] = None) -> IssuedCredential:
        """A new credential; its secret is shown this once. Never retried."""
        return self._c._send(_core.credentials_generate(agent_id, ttl_seconds))

    def list_page(self, agent_id: str, *, page_size: Optional[int] = None,
                  page_token: Optional[str] = None) -> Page[Credential]:
        return self._c._send(_core.credentials_list(agent_id, page_size, page_token))

    def list(self, agent_id: str, *, page_size: Optional[int] = None) -> Iterator[Credential]:
        """Every credential of the agent (metadata only), fetched lazily."""
        return _iterate(lambda t: self.list_page(agent_id, page_size=page_size, page_token=t))

    def rotate(self, agent_id: str, credential_id: str, *,
               grace_period_seconds: Optional[int] = None) -> IssuedCredential:
        """A new secret; the old one keeps working for the grace period. Never retried."""
        return self._c._send(_core.credentials_rotate(agent_id, credential_id, grace_period_seconds))

    def revoke(self, agent_id: str, credential_id: str) -> Credential:
        return self._c._send(_core.credentials_revoke(agent_id, credential_id))


class Tokens:
    """OAuth 2.0: tokens for the client's own identity, introspection, revocation."""

    def __init__(self, client: AgentIdPClient) -> None:
        self._c = client

    def issue(self, scopes: Optional[List[str]] = None) -> TokenResponse:
        """A new token (client_credentials) for ``scopes`` or the client's
        scopes. Bypasses the client's token cache."""
        return self._c._send(_core.tokens_issue(scopes if scopes is not None else self._c.scopes))

    def introspect(self, token: Union[str, Secret]) -> Introspection:
        """RFC 7662; the client's token needs the scope tokens:introspect."""
        return self._c._send(_core.tokens_introspect(token))

    def revoke(self, token: Union[str, Secret]) -> None:
        """RFC 7009: revokes one of the client's own tokens."""
        self._c._send(_core.tokens_revoke(token))
        self._c.token_manager.invalidate(secret_of(token))


class Audit:
    """The audit log (/v1/audit; scope audit:read)."""

    def __init__(self, client: AgentIdPClient) -> None:
        self._c = client

    def query_page(
        self, *, agent_id: Optional[str] = None, action: Optional[str] = None, outcome: Optional[str] = None,
        actor: Optional[str] = None, start_time: Optional[datetime] = None, end_time: Optional[datetime] = None,
        page_size: Optional[int] = None, page_token: Optional[str] = None, owner: Optional[str] = None,
    ) -> Page[AuditEvent]:
        """One page of matching events, newest first."""
        return self._c._send(_core.audit_query(agent_id, action, outcome, actor, start_time, end_time,
                                               page_size, page_token, owner))

    def query(
        self, *, agent_id: Optional[str] = None, action: Optional[str] = None, outcome: Optional[str] = None,
        actor: Optional[str] = None, start_time: Optional[datetime] = None, end_time: Optional[datetime] = None,
        page_size: Optional[int] = None, owner: Optional[str] = None,
    ) -> Iterator[AuditEvent]:
        """Every matching event, newest first, fetched lazily."""
        return _iterate(lambda t: self.query_page(agent_id=agent_id, action=action, outcome=outcome, actor=actor,
                                                  start_time=start_time, end_time=end_time, page_size=page_size,
                                                  page_token=t, owner=owner))

    def get(self, event_id: str) -> AuditEvent:
        return self._c._send(_core.audit_get(event_id))

    def verify(self, *, from_sequence: Optional[int] = None, to_sequence: Optional[int] = None) -> ChainVerification:
        """Recomputes the hash chain over the sequences from ``from_sequence``
        (None: the oldest kept) to ``to_sequence`` (None: the newest, and then
        the recorded head is checked too). Needs audit:read and platform:admin.
        A broken chain is a result (``ok`` False, ``first_break`` set)."""
        return self._c._send(_core.audit_verify(from_sequence, to_sequence))

    def checkpoints_page(
        self, *, from_sequence: Optional[int] = None, page_size: Optional[int] = None,
        page_token: Optional[str] = None,
    ) -> Page[AuditCheckpoint]:
        """One page of the chain's signed checkpoints at or after
        ``from_sequence``, oldest first. Needs audit:read and platform:admin."""
        return self._c._send(_core.audit_checkpoints(from_sequence, page_size, page_token))

    def checkpoints(
        self, *, from_sequence: Optional[int] = None, page_size: Optional[int] = None,
    ) -> Iterator[AuditCheckpoint]:
        """Every signed checkpoint at or after ``from_sequence``, oldest first, fetched lazily."""
        return _iterate(lambda t: self.checkpoints_page(from_sequence=from_sequence, page_size=page_size,
                                                        page_token=t))


__all__ = ["AgentIdPClient", "TokenManager", "Agents", "Credentials", "Tokens", "Audit"]
