"""Typed errors from the service's error codes (`{"error": {"code", "message", ...}}`)."""

from __future__ import annotations

from typing import Any


class CoherentMemoryError(Exception):
    """An error answer of the service: its status, stable `code`, `message`, `field`, `details`."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.details = details or {}


class BadRequest(CoherentMemoryError):
    """The body was not JSON."""


class Unauthenticated(CoherentMemoryError):
    """No API key, or an unknown one."""


class Forbidden(CoherentMemoryError):
    """An admin operation called with a client key."""


class NotFound(CoherentMemoryError):
    """The tenant has no such session, fact, document, job or snapshot."""


class Conflict(CoherentMemoryError):
    """A session owned by another user, or a write that kept racing others."""


class PreconditionFailed(CoherentMemoryError):
    """`If-Match` named another version."""


class TooLarge(CoherentMemoryError):
    """A message, batch, state, fact, document or body over its limit."""


class InvalidInput(CoherentMemoryError):
    """A field failed validation (`field` names it)."""


class StoreUnavailable(CoherentMemoryError):
    """A store is down (retried with backoff before it is raised)."""


class InternalError(CoherentMemoryError):
    """A bug in the service."""


BY_CODE: dict[str, type[CoherentMemoryError]] = {
    "bad_request": BadRequest,
    "unauthenticated": Unauthenticated,
    "forbidden": Forbidden,
    "not_found": NotFound,
    "conflict": Conflict,
    "precondition_failed": PreconditionFailed,
    "too_large": TooLarge,
    "invalid_input": InvalidInput,
    "store_unavailable": StoreUnavailable,
    "internal": InternalError,
}


def error_from(status: int, body: Any) -> CoherentMemoryError:
    """The typed error for an error answer (a plain CoherentMemoryError for an unknown code)."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return CoherentMemoryError(status, "http_error", str(body)[:200])
    code = str(error.get("code", "http_error"))
    return BY_CODE.get(code, CoherentMemoryError)(
        status, code, str(error.get("message", "")), error.get("field"), error.get("details")
    )
