"""Request ids and the access log: one id per request, bound into every log line it causes.

The id comes from `X-Request-ID` when the caller sends a usable one (a proxy's, a client's
retry), else a new one; it is returned in the same header, bound into structlog's context
(the thread pool copies it into each handler's thread) and carried into queued jobs' headers.
"""

from __future__ import annotations

import re
import time
import uuid

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger()

HEADER = b"x-request-id"
# Printable, no spaces or separators a log parser would trip on; long enough for any tracer's.
_USABLE = re.compile(rb"[A-Za-z0-9._:/+=-]{1,128}")


def request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == HEADER and _USABLE.fullmatch(value):
            return str(value, "ascii")
    return uuid.uuid4().hex


class RequestContext:
    """Outermost middleware: the request id in and out, and one `http.request` event."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id(scope)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (HEADER, rid.encode())]
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=rid):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                route = getattr(scope.get("route"), "path", None)
                log.info(
                    "http.request",
                    method=scope["method"],
                    path=scope["path"],
                    route=route,
                    status=status,
                    ms=round((time.perf_counter() - started) * 1000, 2),
                )
