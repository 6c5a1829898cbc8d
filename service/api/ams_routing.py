"""The machinery of the Redis Agent Memory Server (AMS) routes (`ams_working_memory`,
`ams_long_term`): their error shape, their keys, their health probe.

These routes serve AMS's REST API as `agent-memory-client` 0.14 calls it, as thin routes over
our use cases (docs/compat.md: what maps to what, and what cannot). Errors on them answer in
AMS's `{"detail": "..."}` shape, not ours."""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.api.ams_schemas import AmsErrorOut, HealthOut
from service.api.deps import principal_from
from service.api.errors import STATUS, ErrorOut
from service.domain import errors as e
from service.domain.models import Principal

log = structlog.get_logger()

TAG = "agent-memory-server"


def _detail(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": message}, status, headers=headers)


class AmsRoute(APIRoute):
    """A route whose errors (its key's check included) answer as AMS does: `{"detail"}`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except e.MemoryServiceError as exc:
                status = next((s for t, s in STATUS.items() if isinstance(exc, t)), 500)
                if status >= 500:
                    log.warning("http.store_unavailable", path=request.url.path, error=exc.message)
                headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
                if isinstance(exc, e.RateLimited):
                    headers = {"Retry-After": str(int(exc.details["retry_after_s"]) + 1)}
                where = f"{exc.field}: " if exc.field else ""
                return _detail(status, where + exc.message, headers)
            except RequestValidationError as exc:
                first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid"}
                field = ".".join(str(p) for p in first["loc"][1:]) or "body"
                return _detail(422, f"{field}: {first['msg']}")
            except StarletteHTTPException as exc:
                return _detail(exc.status_code, str(exc.detail))

        return route


def errors(*raised: type[e.MemoryServiceError]) -> dict[int | str, dict[str, Any]]:
    out: dict[int | str, dict[str, Any]] = {
        STATUS[error]: {"model": AmsErrorOut, "description": error.__doc__} for error in raised
    }
    out[413] = {"model": ErrorOut, "description": "Over max_request_bytes: refused before routing."}
    return out


COMMON = (e.Unauthenticated, e.InvalidInput, e.StoreUnavailable, e.RateLimited)


def ams_router() -> APIRouter:
    """A router of keyed AMS routes: AMS's error shape, the errors every one may answer."""
    return APIRouter(tags=[TAG], route_class=AmsRoute, responses=errors(*COMMON))


open_router = APIRouter(tags=[TAG], route_class=AmsRoute)  # no key: nothing to refuse


async def ams_principal(request: Request) -> Principal:
    """Our API keys, as Bearer or X-API-Key, or as HTTP Basic's password: the client has no
    header setting, but httpx sends a base URL's `user:key@` as Basic."""
    headers = dict(request.headers)
    given = headers.get("authorization", "")
    if given.lower().startswith("basic "):
        try:
            _, _, key = base64.b64decode(given[6:], validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise e.Unauthenticated("malformed Basic credentials") from None
        headers["authorization"] = f"Bearer {key}"
    return await principal_from(request, headers)


Caller = Annotated[Principal, Depends(ams_principal)]


def session_id_of(session_id: str, namespace: str | None) -> str:
    """Our session id: AMS keys a session by namespace and id; ours by id alone."""
    return f"{namespace}:{session_id}" if namespace else session_id


@open_router.get("/v1/health", response_model=HealthOut)
async def health() -> HealthOut:
    """AMS's liveness check (no key needed, as there): the server's time."""
    return HealthOut(now=time.time())
