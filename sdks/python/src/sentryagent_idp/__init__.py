"""The Python client of AgentIdP, the identity provider for AI agents.

``AgentIdPClient`` (sync) and ``AsyncAgentIdPClient`` (async) speak the REST
API of the gateway: agents, credentials, OAuth 2.0 tokens, the audit log."""

from ._secret import Secret
from ._version import __version__
from .aio import AsyncAgentIdPClient, AsyncTokenManager
from .client import AgentIdPClient, TokenManager
from .errors import AgentIdPError
from .models import (
    Agent, AuditCheckpoint, AuditEvent, ChainBreak, ChainVerification, Credential, Introspection, IssuedCredential, Page, TokenResponse,
)

__all__ = [
    "AgentIdPClient", "AsyncAgentIdPClient", "AgentIdPError", "TokenManager", "AsyncTokenManager", "Secret",
    "Agent", "AuditCheckpoint", "AuditEvent", "ChainBreak", "ChainVerification", "Credential", "Introspection", "IssuedCredential", "Page", "TokenResponse",
    "__version__",
]
