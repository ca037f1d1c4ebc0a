"""AgentIdPError: every error of the API, from either of its two shapes."""

from __future__ import annotations

import email.utils
import json
import time
from typing import Any, Dict, List, Mapping, Optional, Tuple

_ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"

_GRPC_CODES = (
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
    "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
    "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
)

_STATUS_CODES = {
    400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
    409: "ABORTED", 429: "RESOURCE_EXHAUSTED", 501: "UNIMPLEMENTED", 503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

_REASONS = {
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 409: "Conflict",
    429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Gateway Timeout",
}


class AgentIdPError(Exception):
    """An error from the AgentIdP API.

    ``code`` is stable (match on it, never on ``message``): the ``ErrorInfo``
    reason of ``/v1`` errors (``AGENT_NOT_FOUND``) or the RFC 6749 ``error`` of
    ``/oauth2`` ones (``invalid_client``). ``http_status`` is 0 when the request
    got no answer (``code`` ``UNAVAILABLE`` or ``DEADLINE_EXCEEDED``; the cause
    is ``__cause__``). ``details`` are the ``google.rpc.Status`` details as
    sent; ``retry_after`` the server's ``Retry-After`` in seconds;
    ``request_id`` the gateway's ``x-request-id``.
    """

    def __init__(
        self,
        code: str,
        message: str,
        http_status: int = 0,
        details: Optional[List[Dict[str, Any]]] = None,
        retry_after: Optional[float] = None,
        request_id: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status
        self.details: List[Dict[str, Any]] = details or []
        self.retry_after = retry_after
        self.request_id = request_id

    def __reduce__(self) -> Tuple[Any, Tuple[Any, ...]]:
        # copy and pickle rebuild it from all its fields, not just the message.
        return (AgentIdPError, (self.code, self.message, self.http_status, self.details, self.retry_after,
                                self.request_id))

    def __str__(self) -> str:
        status = f" (HTTP {self.http_status})" if self.http_status else ""
        return f"{self.code}{status}: {self.message}"

    def __repr__(self) -> str:
        return (
            f"AgentIdPError(code={self.code!r}, message={self.message!r}, "
            f"http_status={self.http_status!r}, request_id={self.request_id!r})"
        )


def parse_retry_after(value: Optional[str]) -> Optional[float]:
    """Retry-After as seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def error_from_response(status: int, headers: Mapping[str, str], body: bytes) -> AgentIdPError:
    """Turns a non-2xx response into an AgentIdPError."""
    code = ""
    message = ""
    details: List[Dict[str, Any]] = []
    try:
        data = json.loads(body) if body else None
    except ValueError:
        data = None
    if isinstance(data, dict):
        if isinstance(data.get("error"), str):  # RFC 6749 §5.2
            code = data["error"]
            message = str(data.get("error_description") or "")
        elif "code" in data or "message" in data:  # google.rpc.Status
            message = str(data.get("message") or "")
            raw = data.get("details")
            if isinstance(raw, list):
                details = [d for d in raw if isinstance(d, dict)]
            for d in details:
                if d.get("@type") == _ERROR_INFO and isinstance(d.get("reason"), str):
                    code = d["reason"]
            n = data.get("code")
            if not code and isinstance(n, int) and 0 <= n < len(_GRPC_CODES):
                code = _GRPC_CODES[n]
    if not code:
        code = _STATUS_CODES.get(status, "INTERNAL" if status >= 500 else "UNKNOWN")
    if not message:
        message = _REASONS.get(status, f"HTTP {status}")
    return AgentIdPError(
        code, message, status, details,
        retry_after=parse_retry_after(headers.get("retry-after")),
        request_id=headers.get("x-request-id"),
    )
