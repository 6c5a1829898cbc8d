"""Dependencies of the handlers, as Annotated aliases."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from service.domain.errors import Forbidden, RateLimited, Unauthenticated
from service.domain.models import Principal
from service.ports import ApiKeys, RateLimiter
from service.usecases.services import Services

DEFAULT_TENANT = "default"
KEYLESS = Principal(tenant=DEFAULT_TENANT, roles=frozenset({"client", "admin"}))


# async: FastAPI runs a plain `def` dependency in the thread pool, a thread hop per dependency
# per request (~0.3 ms each on 2 cores); these never block (a stat of the key file at most).


async def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


def authenticate(keys: ApiKeys, headers: Mapping[str, str]) -> Principal:
    """The caller, from `Authorization: Bearer <key>` or `X-API-Key`; keyless -> `default`.
    The one rule for every HTTP entry point (the API and MCP)."""
    if not keys.configured():
        return KEYLESS
    key = _presented_key(headers)
    if not key:
        raise Unauthenticated("missing API key: send Authorization: Bearer <key>")
    found = keys.authenticate(key)
    if found is None:
        raise Unauthenticated("invalid API key")
    return found


def _presented_key(headers: Mapping[str, str]) -> str:
    header = headers.get("authorization", "")
    key = header[7:].strip() if header.lower().startswith("bearer ") else ""
    return key or headers.get("x-api-key", "")


async def principal(request: Request) -> Principal:
    """The caller of an API route (see `authenticate`), within its key's request rate."""
    return await principal_from(request, request.headers)


async def principal_from(request: Request, headers: Mapping[str, str]) -> Principal:
    """The caller a request's (possibly rewritten) headers name, within its key's rate."""
    caller = authenticate(request.app.state.keys, headers)
    key = _presented_key(headers)
    bucket = hashlib.sha256(key.encode()).hexdigest()[:24] if key else "keyless"
    await _limit(request, caller, bucket)
    return caller


async def _limit(request: Request, caller: Principal, bucket: str) -> None:
    """The key's request rate (rate_limit_per_s); no Redis round trip when there is none."""
    limiter: RateLimiter = request.app.state.services.rate_limiter
    if not limiter.rate:
        return
    wait = await run_in_threadpool(limiter.take, caller.tenant, bucket)
    if wait > 0:
        raise RateLimited(
            f"over {limiter.rate:g} requests per second for this API key; retry in {wait:.1f} s",
            retry_after_s=wait,
        )


async def admin(caller: Annotated[Principal, Depends(principal)]) -> Principal:
    if not caller.is_admin:
        raise Forbidden("this operation needs an admin key")
    return caller


Svc = Annotated[Services, Depends(services)]
Caller = Annotated[Principal, Depends(principal)]
Admin = Annotated[Principal, Depends(admin)]
