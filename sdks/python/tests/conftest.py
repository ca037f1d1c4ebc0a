from __future__ import annotations

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Dict, Iterator, List, Optional, Tuple

import pytest

Handler = Callable[[BaseHTTPRequestHandler], Tuple[int, Dict[str, str], bytes]]


@pytest.fixture
def mesh() -> Dict[str, str]:
    """The live mesh from the environment (make dev writes it to .dev/env)."""
    env = {"url": os.environ.get("AGENTIDP_URL", ""), "client_id": os.environ.get("AGENTIDP_CLIENT_ID", ""),
           "secret": os.environ.get("AGENTIDP_CLIENT_SECRET", "")}
    if not all(env.values()):
        pytest.skip("no live mesh: set AGENTIDP_URL, AGENTIDP_CLIENT_ID and AGENTIDP_CLIENT_SECRET")
    return env


class FakeServer:
    """A local stand-in for the gateway, for what the live mesh cannot show
    deterministically: how many token requests a burst causes, how retries
    are spaced. It serves /oauth2/token itself and routes the rest to
    handlers registered by the test."""

    def __init__(self) -> None:
        self.token_requests = 0
        self.token_delay = 0.0
        self.expires_in = 900
        self.token_status = 200
        self.routes: Dict[str, Handler] = {}
        self.requests: List[Tuple[str, str, Dict[str, str]]] = []
        self._lock = threading.Lock()
        fake = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _serve(self) -> None:
                path = self.path.split("?")[0]
                with fake._lock:
                    fake.requests.append((self.command, self.path, dict(self.headers)))
                if path == "/oauth2/token":
                    with fake._lock:
                        fake.token_requests += 1
                        n = fake.token_requests
                    time.sleep(fake.token_delay)
                    body = json.dumps({"access_token": f"tok-{n}", "token_type": "Bearer",
                                       "expires_in": fake.expires_in}).encode()
                    status, headers = fake.token_status, {"Content-Type": "application/json"}
                    if status != 200:
                        body = b'{"error":"invalid_client","error_description":"client authentication failed"}'

                else:
                    handler = fake.routes.get(f"{self.command} {path}")
                    if handler is None:
                        status, headers, body = 404, {}, b'{"code":5,"message":"no route"}'
                    else:
                        status, headers, body = handler(self)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PATCH = do_DELETE = _serve

        class Server(ThreadingHTTPServer):
            request_queue_size = 256
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def route(self, key: str, handler: Handler) -> None:
        self.routes[key] = handler

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    f = FakeServer()
    yield f
    f.close()


def agent_json(agent_id: str) -> bytes:
    return json.dumps({"agentId": agent_id, "name": "a", "status": "active",
                       "createdAt": "2026-01-02T03:04:05.123456789Z", "secretVersion": "3"}).encode()


def json_response(body: bytes, status: int = 200, extra: Optional[Dict[str, str]] = None
                  ) -> Tuple[int, Dict[str, str], bytes]:
    headers = {"Content-Type": "application/json"}
    headers.update(extra or {})
    return status, headers, body
