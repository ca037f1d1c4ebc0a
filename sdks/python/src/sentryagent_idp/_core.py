"""What the sync and async clients share: each API operation as a Call
(method, path, body, how to parse the answer, whether it may be retried),
the retry policy, and the token cache's arithmetic. No I/O here."""

from __future__ import annotations

import base64
import platform
import random
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Dict, Generic, List, Mapping, Optional, TypeVar, Union
from urllib.parse import quote

from ._secret import Secret
from ._version import __version__
from .errors import AgentIdPError
from .models import (
    Agent, AuditCheckpoint, AuditEvent, ChainVerification, Credential, Introspection, IssuedCredential, Page, TokenResponse, format_time,
)

T = TypeVar("T")

#: A cached token is replaced this long before it expires (half its
#: lifetime for tokens shorter than two minutes).
REFRESH_BEFORE = 60.0


@dataclass(frozen=True)
class Call(Generic[T]):
    method: str
    path: str  # escaped
    parse: Callable[[Any], T]
    params: Optional[Dict[str, str]] = None
    json: Optional[Dict[str, Any]] = None
    form: Optional[Dict[str, str]] = None
    auth: str = "bearer"  # "bearer": the client's token; "basic": client_secret_basic
    # May be repeated after 429/503: reads, idempotent writes, creates that
    # carry a requestId.
    retry: bool = False


@dataclass(frozen=True)
class RetryPolicy:
    """429 and 503 are retried ``max_retries`` times with exponential backoff
    and full jitter, never sooner than ``Retry-After``, and not at all when
    ``Retry-After`` exceeds ``max_retry_after`` seconds."""

    max_retries: int = 3
    backoff: float = 0.2
    max_backoff: float = 5.0
    max_retry_after: float = 30.0

    def delay(self, call: Call[Any], attempt: int, err: AgentIdPError) -> Optional[float]:
        """Seconds to wait before the next attempt, or None to give up."""
        if not call.retry or attempt >= self.max_retries or err.http_status not in (429, 503):
            return None
        if err.retry_after is not None:
            if err.retry_after > self.max_retry_after:
                return None
            return err.retry_after + random.uniform(0, self.backoff)
        return random.uniform(0, min(self.max_backoff, self.backoff * (2 ** attempt)))


def token_rejected(status: int, headers: Mapping[str, str], err: AgentIdPError) -> bool:
    """A 401 about the token itself (RFC 6750 invalid_token: expired, revoked):
    a new token may fix it, and the request never reached a service."""
    return status == 401 and (
        err.code == "INVALID_TOKEN" or "invalid_token" in headers.get("www-authenticate", "")
    )


def renew_at(start: float, expires_in: int) -> float:
    margin = min(REFRESH_BEFORE, expires_in / 2)
    return start + expires_in - margin


def user_agent(prefix: Optional[str]) -> str:
    ua = f"sentryagent-idp-python/{__version__} (python {platform.python_version()})"
    return f"{prefix} {ua}" if prefix else ua


def basic_auth(client_id: str, secret: Secret) -> str:
    # RFC 6749 §2.3.1: both parts form-encoded first.
    raw = f"{quote(client_id, safe='')}:{quote(secret.reveal(), safe='')}"
    return "Basic " + base64.b64encode(raw.encode()).decode()


def invalid_argument(message: str) -> AgentIdPError:
    return AgentIdPError("INVALID_ARGUMENT", message)


def seg(value: str, name: str) -> str:
    """One escaped path segment; empty ids are refused before sending."""
    if not isinstance(value, str) or not value:
        raise invalid_argument(f"{name} must be a non-empty string")
    return quote(value, safe="")


def _params(**kw: Any) -> Dict[str, str]:
    out: Dict[str, str] = {}
    for k, v in kw.items():
        if v is None or v == "":
            continue
        out[k] = format_time(v) if isinstance(v, datetime) else str(v)
    return out


def _drop_none(**kw: Any) -> Dict[str, Any]:
    return {k: v for k, v in kw.items() if v is not None}


def _page(key: str, item: Callable[[Mapping[str, Any]], T]) -> Callable[[Any], Page[T]]:
    def parse(d: Any) -> Page[T]:
        if not isinstance(d, dict):
            return Page([])
        return Page([item(x) for x in d.get(key) or []], str(d.get("nextPageToken") or ""))
    return parse


def _none(_: Any) -> None:
    return None


# ── agents ──────────────────────────────────────────────────────────────────

_AGENT_FIELDS = {
    "name": "name", "description": "description", "agent_type": "agentType", "version": "version",
    "owner": "owner", "capabilities": "capabilities", "scopes": "scopes",
    "deployment_env": "deploymentEnv", "metadata": "metadata",
}

AgentFields = Union[str, List[str], Dict[str, str], None]


def agents_register(fields: Mapping[str, AgentFields], request_id: Optional[str]) -> Call[Agent]:
    body = {_AGENT_FIELDS[k]: v for k, v in fields.items() if v is not None}
    # The requestId makes the create idempotent, so it is safe to retry.
    rid = request_id or uuid.uuid4().hex
    return Call("POST", "/v1/agents", Agent.from_json, params={"requestId": rid}, json=body, retry=True)


def agents_get(agent_id: str) -> Call[Agent]:
    return Call("GET", f"/v1/agents/{seg(agent_id, 'agent_id')}", Agent.from_json, retry=True)


def agents_list(
    status: Optional[str], owner: Optional[str], agent_type: Optional[str], search: Optional[str],
    page_size: Optional[int], page_token: Optional[str],
) -> Call[Page[Agent]]:
    params = _params(status=status, owner=owner, agentType=agent_type, search=search,
                     pageSize=page_size, pageToken=page_token)
    return Call("GET", "/v1/agents", _page("agents", Agent.from_json), params=params, retry=True)


def agents_update(
    agent_id: str, fields: Mapping[str, AgentFields], etag: Optional[str], status: Optional[str] = None,
) -> Call[Agent]:
    body = {_AGENT_FIELDS[k]: v for k, v in fields.items() if v is not None}
    if status is not None:
        body["status"] = status
    if not body:
        raise invalid_argument("the update sets no field")
    mask = ",".join(body)
    if etag:
        body["etag"] = etag
    # Setting fields to given values is idempotent: safe to retry.
    return Call("PATCH", f"/v1/agents/{seg(agent_id, 'agent_id')}", Agent.from_json,
                params={"updateMask": mask}, json=body, retry=True)


def agents_decommission(agent_id: str) -> Call[Agent]:
    return Call("DELETE", f"/v1/agents/{seg(agent_id, 'agent_id')}", Agent.from_json, retry=True)


# ── credentials ─────────────────────────────────────────────────────────────

def _creds(agent_id: str) -> str:
    return f"/v1/agents/{seg(agent_id, 'agent_id')}/credentials"


def credentials_generate(agent_id: str, ttl_seconds: Optional[int]) -> Call[IssuedCredential]:
    # Never retried: a repeat could create a second credential.
    return Call("POST", _creds(agent_id), IssuedCredential.from_json, json=_drop_none(ttlSeconds=ttl_seconds))


def credentials_list(agent_id: str, page_size: Optional[int], page_token: Optional[str]) -> Call[Page[Credential]]:
    return Call("GET", _creds(agent_id), _page("credentials", Credential.from_json),
                params=_params(pageSize=page_size, pageToken=page_token), retry=True)


def credentials_rotate(agent_id: str, credential_id: str, grace_period_seconds: Optional[int]) -> Call[IssuedCredential]:
    # Never retried: a repeat would rotate twice.
    path = f"{_creds(agent_id)}/{seg(credential_id, 'credential_id')}:rotate"
    return Call("POST", path, IssuedCredential.from_json, json=_drop_none(gracePeriodSeconds=grace_period_seconds))


def credentials_revoke(agent_id: str, credential_id: str) -> Call[Credential]:
    path = f"{_creds(agent_id)}/{seg(credential_id, 'credential_id')}"
    return Call("DELETE", path, Credential.from_json, retry=True)


# ── tokens ──────────────────────────────────────────────────────────────────

def tokens_issue(scopes: Optional[List[str]]) -> Call[TokenResponse]:
    form = {"grant_type": "client_credentials"}
    if scopes:
        form["scope"] = " ".join(scopes)
    # Issuing a token changes nothing a repeat would duplicate.
    return Call("POST", "/oauth2/token", TokenResponse.from_json, form=form, auth="basic", retry=True)


def _token_value(token: Union[str, Secret]) -> str:
    value = token.reveal() if isinstance(token, Secret) else token
    if not isinstance(value, str) or not value:
        raise invalid_argument("token must be a non-empty string")
    return value


def tokens_introspect(token: Union[str, Secret]) -> Call[Introspection]:
    return Call("POST", "/oauth2/introspect", Introspection.from_json,
                form={"token": _token_value(token)}, retry=True)


def tokens_revoke(token: Union[str, Secret]) -> Call[None]:
    return Call("POST", "/oauth2/revoke", _none,
                form={"token": _token_value(token), "token_type_hint": "access_token"}, auth="basic", retry=True)


# ── audit ───────────────────────────────────────────────────────────────────

def audit_query(
    agent_id: Optional[str], action: Optional[str], outcome: Optional[str], actor: Optional[str],
    start_time: Optional[datetime], end_time: Optional[datetime], page_size: Optional[int],
    page_token: Optional[str], owner: Optional[str] = None,
) -> Call[Page[AuditEvent]]:
    params = _params(agentId=agent_id, action=action, outcome=outcome, actor=actor, owner=owner,
                     startTime=start_time, endTime=end_time, pageSize=page_size, pageToken=page_token)
    return Call("GET", "/v1/audit/events", _page("events", AuditEvent.from_json), params=params, retry=True)


def audit_get(event_id: str) -> Call[AuditEvent]:
    return Call("GET", f"/v1/audit/events/{seg(event_id, 'event_id')}", AuditEvent.from_json, retry=True)


def audit_verify(from_sequence: Optional[int], to_sequence: Optional[int]) -> Call[ChainVerification]:
    f, t = from_sequence or 0, to_sequence or 0
    if f < 0 or t < 0 or (t > 0 and f > t):
        raise invalid_argument("the range needs 0 <= from_sequence <= to_sequence")
    return Call("GET", "/v1/audit/verify", ChainVerification.from_json,
                params=_params(fromSequence=f or None, toSequence=t or None), retry=True)


def audit_checkpoints(
    from_sequence: Optional[int], page_size: Optional[int], page_token: Optional[str],
) -> Call[Page[AuditCheckpoint]]:
    if from_sequence is not None and from_sequence < 0:
        raise invalid_argument("from_sequence must not be negative")
    return Call("GET", "/v1/audit/checkpoints", _page("checkpoints", AuditCheckpoint.from_json),
                params=_params(fromSequence=from_sequence or None, pageSize=page_size, pageToken=page_token),
                retry=True)
