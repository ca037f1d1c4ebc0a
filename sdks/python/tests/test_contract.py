"""Every scenario of sdks/contract against the live mesh, with the sync and
the async client."""

from __future__ import annotations

import urllib.request
from pathlib import Path
from typing import Dict

import pytest

from sentryagent_idp import AgentIdPClient, AsyncAgentIdPClient

from .contract import load, run_scenario, scenario_files

_authz: Dict[str, bool] = {}


def authz_enforced(url: str) -> bool:
    """/v1 without a token: 200 means the gateway has no authz yet."""
    if url not in _authz:
        try:
            with urllib.request.urlopen(f"{url.rstrip('/')}/v1/agents?pageSize=1", timeout=10) as r:
                _authz[url] = r.status != 200
        except urllib.error.HTTPError:
            _authz[url] = True
    return _authz[url]


@pytest.mark.parametrize("client", ["sync", "async"])
@pytest.mark.parametrize("path", scenario_files(), ids=lambda p: p.stem)
def test_scenario(path: Path, client: str, mesh: Dict[str, str]) -> None:
    scenario = load(path)
    if "authz" in scenario.get("requires", []) and not authz_enforced(mesh["url"]):
        pytest.skip("needs authz: the gateway answers /v1 without a token")
    make = AgentIdPClient if client == "sync" else AsyncAgentIdPClient
    run_scenario(make, mesh, scenario)
