"""Typed models of the REST API's resources (camelCase JSON → snake_case)."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Dict, Generic, List, Mapping, Optional, TypeVar

from ._secret import Secret

T = TypeVar("T")

_RFC3339 = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|z|[+-]\d{2}:\d{2})$"
)


def parse_time(value: Any) -> Optional[datetime]:
    """RFC 3339 with up to nanoseconds (Python 3.9's fromisoformat takes
    neither ``Z`` nor more than 6 fractional digits)."""
    if not isinstance(value, str) or not value:
        return None
    m = _RFC3339.match(value)
    if m is None:
        raise ValueError(f"not an RFC 3339 timestamp: {value!r}")
    date, clock, frac, zone = m.groups()
    micro = (frac or "0")[:6].ljust(6, "0")
    tz = "+00:00" if zone in ("Z", "z") else zone
    return datetime.fromisoformat(f"{date}T{clock}.{micro}{tz}")


def format_time(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _int(value: Any) -> int:
    # int64 fields arrive as JSON strings (proto3 JSON mapping).
    return int(value) if value not in (None, "") else 0


def _strs(value: Any) -> List[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _map(value: Any) -> Dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


class _Model:
    def to_dict(self) -> Dict[str, Any]:
        """The model as the API's JSON (camelCase; datetimes as RFC 3339).
        Secrets stay ``Secret`` objects: reveal them deliberately."""
        out: Dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            v = getattr(self, f.name)
            out[_camel(f.name)] = _plain(v)
        return out


def _plain(v: Any) -> Any:
    if isinstance(v, _Model):
        return v.to_dict()
    if isinstance(v, datetime):
        return format_time(v)
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    return v


@dataclass(frozen=True)
class Agent(_Model):
    """A registered AI agent. Its ``agent_id`` is also its OAuth client_id."""

    agent_id: str
    name: str
    status: str  # active, suspended or decommissioned
    description: str = ""
    agent_type: str = ""
    version: str = ""
    owner: str = ""  # the agent's tenant: callers see only their own owner's agents
    capabilities: List[str] = field(default_factory=list)
    scopes: List[str] = field(default_factory=list)
    deployment_env: str = ""
    metadata: Dict[str, str] = field(default_factory=dict)
    created_at: Optional[datetime] = None
    updated_at: Optional[datetime] = None
    decommissioned_at: Optional[datetime] = None
    etag: str = ""  # pass to update() to make it conditional
    suspended_at: Optional[datetime] = None  # last suspension, kept after reactivation

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Agent:
        return cls(
            agent_id=str(d.get("agentId", "")), name=str(d.get("name", "")),
            status=str(d.get("status", "")), description=str(d.get("description", "")),
            agent_type=str(d.get("agentType", "")), version=str(d.get("version", "")),
            owner=str(d.get("owner", "")), capabilities=_strs(d.get("capabilities")),
            scopes=_strs(d.get("scopes")), deployment_env=str(d.get("deploymentEnv", "")),
            metadata=_map(d.get("metadata")), created_at=parse_time(d.get("createdAt")),
            updated_at=parse_time(d.get("updatedAt")),
            decommissioned_at=parse_time(d.get("decommissionedAt")), etag=str(d.get("etag", "")),
            suspended_at=parse_time(d.get("suspendedAt")),
        )


@dataclass(frozen=True)
class Credential(_Model):
    """A credential's metadata: never the secret."""

    credential_id: str
    agent_id: str
    client_id: str
    status: str  # active, revoked or expired
    secret_version: int = 0
    rotated_from: int = 0
    storage: str = ""  # vault or hash
    created_at: Optional[datetime] = None
    expires_at: Optional[datetime] = None
    last_used_at: Optional[datetime] = None
    revoked_at: Optional[datetime] = None
    rotated_at: Optional[datetime] = None
    previous_secret_expires_at: Optional[datetime] = None

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Credential:
        return cls(
            credential_id=str(d.get("credentialId", "")), agent_id=str(d.get("agentId", "")),
            client_id=str(d.get("clientId", "")), status=str(d.get("status", "")),
            secret_version=_int(d.get("secretVersion")), rotated_from=_int(d.get("rotatedFrom")),
            storage=str(d.get("storage", "")), created_at=parse_time(d.get("createdAt")),
            expires_at=parse_time(d.get("expiresAt")), last_used_at=parse_time(d.get("lastUsedAt")),
            revoked_at=parse_time(d.get("revokedAt")), rotated_at=parse_time(d.get("rotatedAt")),
            previous_secret_expires_at=parse_time(d.get("previousSecretExpiresAt")),
        )


@dataclass(frozen=True)
class IssuedCredential(_Model):
    """A credential with its secret, from generate() and rotate(): the only
    time the secret is shown. ``client_secret`` is a Secret (hidden from
    repr); ``client_secret.reveal()`` is the value to store."""

    credential: Credential
    client_id: str
    client_secret: Secret

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> IssuedCredential:
        return cls(
            credential=Credential.from_json(d.get("credential") or {}),
            client_id=str(d.get("clientId", "")), client_secret=Secret(str(d.get("clientSecret", ""))),
        )


@dataclass(frozen=True)
class TokenResponse(_Model):
    """An access token from the token endpoint (RFC 6749 §5.1)."""

    access_token: Secret
    token_type: str
    expires_in: int  # seconds
    scope: str = ""

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> TokenResponse:
        return cls(
            access_token=Secret(str(d.get("access_token", ""))), token_type=str(d.get("token_type", "")),
            expires_in=_int(d.get("expires_in")), scope=str(d.get("scope", "")),
        )


@dataclass(frozen=True)
class Introspection(_Model):
    """What the server knows of a token (RFC 7662); only ``active`` is set
    for a token that is not active."""

    active: bool
    scope: str = ""
    owner: str = ""  # the owner (tenant) of the token's agent
    client_id: str = ""
    token_type: str = ""
    exp: int = 0
    iat: int = 0
    sub: str = ""
    aud: List[str] = field(default_factory=list)
    iss: str = ""
    jti: str = ""

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Introspection:
        aud = d.get("aud")
        return cls(
            active=bool(d.get("active")), scope=str(d.get("scope", "")), owner=str(d.get("owner", "")),
            client_id=str(d.get("client_id", "")), token_type=str(d.get("token_type", "")),
            exp=_int(d.get("exp")), iat=_int(d.get("iat")), sub=str(d.get("sub", "")),
            aud=[aud] if isinstance(aud, str) else _strs(aud), iss=str(d.get("iss", "")),
            jti=str(d.get("jti", "")),
        )


@dataclass(frozen=True)
class AuditEvent(_Model):
    """One entry of the audit log."""

    event_id: str
    actor: str
    action: str
    outcome: str  # success, failure or denied
    target: str = ""
    agent_id: str = ""
    request_id: str = ""
    source_address: str = ""
    details: Dict[str, str] = field(default_factory=dict)
    sequence: int = 0
    prev_hash: str = ""
    hash: str = ""
    occurred_at: Optional[datetime] = None
    recorded_at: Optional[datetime] = None
    owner: str = ""  # whose log: the owner of the agent concerned; empty for platform events

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> AuditEvent:
        return cls(
            event_id=str(d.get("eventId", "")), actor=str(d.get("actor", "")),
            action=str(d.get("action", "")), outcome=str(d.get("outcome", "")),
            target=str(d.get("target", "")), agent_id=str(d.get("agentId", "")),
            request_id=str(d.get("requestId", "")), source_address=str(d.get("sourceAddress", "")),
            details=_map(d.get("details")), sequence=_int(d.get("sequence")),
            prev_hash=str(d.get("prevHash", "")), hash=str(d.get("hash", "")),
            occurred_at=parse_time(d.get("occurredAt")), recorded_at=parse_time(d.get("recordedAt")),
            owner=str(d.get("owner", "")),
        )


@dataclass(frozen=True)
class ChainBreak(_Model):
    """Where the audit chain stops proving the log intact. ``kind`` is
    hash_mismatch, prev_hash_mismatch, missing_events or head_mismatch."""

    sequence: int
    kind: str
    event_id: str = ""
    expected: str = ""
    actual: str = ""

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> ChainBreak:
        return cls(
            sequence=_int(d.get("sequence")), kind=str(d.get("kind", "")), event_id=str(d.get("eventId", "")),
            expected=str(d.get("expected", "")), actual=str(d.get("actual", "")),
        )


@dataclass(frozen=True)
class ChainVerification(_Model):
    """The result of ``audit.verify``: the range of sequences checked and,
    when ``ok`` is false, where the chain first broke. A broken chain is a
    result, not an error."""

    ok: bool
    from_sequence: int = 0
    to_sequence: int = 0
    events_checked: int = 0
    first_break: Optional[ChainBreak] = None
    # Signed checkpoints in the range whose signature held and whose head
    # matched the recomputed chain, and the newest sequence one covers (0:
    # none; events after it rest on the hash chain alone).
    checkpoints_checked: int = 0
    checkpointed_through: int = 0

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> ChainVerification:
        fb = d.get("firstBreak")
        return cls(
            ok=bool(d.get("ok")), from_sequence=_int(d.get("fromSequence")), to_sequence=_int(d.get("toSequence")),
            events_checked=_int(d.get("eventsChecked")),
            first_break=ChainBreak.from_json(fb) if isinstance(fb, dict) else None,
            checkpoints_checked=_int(d.get("checkpointsChecked")),
            checkpointed_through=_int(d.get("checkpointedThrough")),
        )


@dataclass(frozen=True)
class AuditCheckpoint(_Model):
    """A signed statement that the audit chain's event at ``sequence`` had
    ``hash``, and so every event before it was what the chain says
    (docs/audit.md, "Signed checkpoints")."""

    sequence: int
    hash: str
    key_id: str = ""  # hex of the first 16 bytes of SHA-256 over the public key's PKIX DER
    algorithm: str = ""  # ed25519 or ecdsa-p256-sha256
    signature: str = ""  # standard base64
    signed_at: Optional[datetime] = None

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> AuditCheckpoint:
        return cls(
            sequence=_int(d.get("sequence")), hash=str(d.get("hash", "")), key_id=str(d.get("keyId", "")),
            algorithm=str(d.get("algorithm", "")), signature=str(d.get("signature", "")),
            signed_at=parse_time(d.get("signedAt")),
        )


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list; ``next_page_token`` is empty on the last."""

    items: List[T]
    next_page_token: str = ""
