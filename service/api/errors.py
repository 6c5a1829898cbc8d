"""The one place domain errors become HTTP responses, all in one JSON shape."""

from __future__ import annotations

import math
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.domain import errors as e

log = structlog.get_logger()

STATUS: dict[type[e.MemoryServiceError], int] = {
    e.InvalidInput: 422,
    e.TooLarge: 413,
    e.NotFound: 404,
    e.Conflict: 409,
    e.PreconditionFailed: 412,
    e.Unauthenticated: 401,
    e.Forbidden: 403,
    e.StoreUnavailable: 503,
    e.InsufficientStorage: 507,
    e.QuotaExceeded: 507,
    e.RateLimited: 429,
}


class ErrorDetail(BaseModel):
    code: str  # stable and machine-readable: invalid_input, not_found, store_unavailable, ...
    message: str
    field: str | None = None  # the request field at fault, when there is one
    details: dict[str, Any] | None = None


class ErrorOut(BaseModel):
    """The one shape of every error response (for the OpenAPI schema; `error_body` builds it)."""

    error: ErrorDetail


def responses(*raised: type[e.MemoryServiceError]) -> dict[int | str, dict[str, Any]]:
    """A route's `responses=`: the errors it may raise, at their statuses in STATUS."""
    return {STATUS[error]: {"model": ErrorOut, "description": error.__doc__} for error in raised}


# Every /v1 route: a key is checked, the request's size and input are, and a store is behind it.
COMMON_RESPONSES = responses(
    e.Unauthenticated, e.TooLarge, e.InvalidInput, e.StoreUnavailable, e.RateLimited
)


def error_body(code: str, message: str, field: str | None = None, **details: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        body["field"] = field
    if details:
        body["details"] = details
    return {"error": body}


def _field(loc: tuple[int | str, ...]) -> str:
    """The request field at fault, dotted, without the labels pydantic gives union members:
    a type (`list[TextPart]`) or a tag (`type=function`)."""
    parts = [step for step in map(str, loc[1:]) if "[" not in step and "=" not in step]
    return ".".join(parts) or str(loc[0])


def _problem(err: Any) -> dict[str, str]:
    if err["type"] == "json_invalid":
        # loc is ("body", <character offset>): say where the JSON broke, not a bare number.
        at = err["loc"][1] if len(err["loc"]) > 1 else "?"
        why = (err.get("ctx") or {}).get("error") or err["msg"]
        return {"field": "body", "message": f"not valid JSON at character {at}: {why}"}
    return {"field": _field(err["loc"]), "message": err["msg"]}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(e.MemoryServiceError)
    async def domain_error(request: Request, exc: e.MemoryServiceError) -> JSONResponse:
        status = next((s for t, s in STATUS.items() if isinstance(exc, t)), 500)
        if status >= 500:
            log.warning(
                "http.store_unavailable",
                path=request.url.path,
                error=exc.message,
                cause=repr(exc.__cause__) if exc.__cause__ else None,
            )
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        if isinstance(exc, e.RateLimited):
            headers = {"Retry-After": str(math.ceil(exc.details["retry_after_s"]))}
        return JSONResponse(
            error_body(exc.code, exc.message, exc.field, **exc.details), status, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [_problem(err) for err in exc.errors()]
        first = problems[0] if problems else {"field": None, "message": "invalid request"}
        return JSONResponse(
            error_body(
                "invalid_input",
                f"{first['field']}: {first['message']}",
                first["field"],
                problems=problems,
            ),
            422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {
            400: "bad_request",
            404: "not_found",
            405: "method_not_allowed",
            413: "too_large",
        }.get(exc.status_code, "http_error")
        return JSONResponse(error_body(code, str(exc.detail)), exc.status_code)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("http.unexpected_error", path=request.url.path)
        return JSONResponse(error_body("internal", "internal error; see the service log"), 500)
