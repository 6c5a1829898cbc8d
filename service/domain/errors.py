"""One error hierarchy for the whole service; the API renders it in one place."""

from __future__ import annotations

from typing import Any


class MemoryServiceError(Exception):
    """Base of every expected failure; `code` is stable and machine-readable."""

    code = "error"

    def __init__(self, message: str, *, field: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details


class InvalidInput(MemoryServiceError):
    """The request is well-formed JSON but asks for something impossible."""

    code = "invalid_input"


class TooLarge(MemoryServiceError):
    """A message, batch or value exceeds a configured limit."""

    code = "too_large"


class NotFound(MemoryServiceError):
    """The addressed resource does not exist for this tenant."""

    code = "not_found"


class Conflict(MemoryServiceError):
    """The write contradicts existing state (e.g. a session owned by another user)."""

    code = "conflict"


class PreconditionFailed(MemoryServiceError):
    """An If-Match version did not match the stored version."""

    code = "precondition_failed"


class Unauthenticated(MemoryServiceError):
    """No valid API key was presented."""

    code = "unauthenticated"


class Forbidden(MemoryServiceError):
    """The API key is valid but its role may not do this."""

    code = "forbidden"


class StoreUnavailable(MemoryServiceError):
    """A backing store (Redis, vector store, broker) could not be reached."""

    code = "store_unavailable"

    def __init__(self, store: str, message: str) -> None:
        super().__init__(message, store=store)
        self.store = store


class RateLimited(MemoryServiceError):
    """Too many requests for this API key; retry after `details.retry_after_s`."""

    code = "rate_limited"


class InsufficientStorage(MemoryServiceError):
    """A store's disk or memory is too full to take this write; nothing was written."""

    code = "insufficient_storage"


class QuotaExceeded(InsufficientStorage):
    """The tenant's storage quota (`details.quota`) would be exceeded; nothing was written."""

    code = "quota_exceeded"
