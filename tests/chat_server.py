"""A local HTTP server that speaks OpenAI chat completions, for the LLM adapters' tests."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


class Chat(BaseHTTPRequestHandler):
    """Answers every POST with `reply` (as JSON) after `delay` seconds; records the requests."""

    reply: Any = None
    delay = 0.0
    seen: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append(
            {"path": self.path, "auth": self.headers.get("Authorization"), **body}
        )
        time.sleep(type(self).delay)
        payload = json.dumps(type(self).reply).encode()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (the timeout case)

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def chat_server() -> Iterator[str]:
    """The base URL (…/v1) of a fresh server; set `Chat.reply` (and `delay`) before calling."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Chat)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Chat.seen = []
    Chat.delay = 0.0
    yield f"http://127.0.0.1:{server.server_port}/v1"
    server.shutdown()
    server.server_close()
