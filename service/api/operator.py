"""Operator read models over HTTP (admin keys only): status, sessions, API keys.

What `cmem status`, `cmem sessions ls` and `cmem keys ls|revoke` call. The bodies are declared
here, next to their routes, from the use cases' typed results (`from_attributes`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool

from service.api.deps import Admin, Svc
from service.api.errors import responses
from service.api.schemas import MaxOffset
from service.domain import errors as e
from service.ports import ApiKeys, Heartbeat
from service.usecases import keys as keys_uc
from service.usecases import observability

router = APIRouter(prefix="/v1/admin", tags=["admin"], responses=responses(e.Forbidden))


async def _keys(request: Request) -> ApiKeys:
    keys: ApiKeys = request.app.state.keys
    return keys


async def _heartbeat(request: Request) -> Heartbeat:
    heartbeat: Heartbeat = request.app.state.heartbeat
    return heartbeat


Keys = Annotated[ApiKeys, Depends(_keys)]
Beat = Annotated[Heartbeat, Depends(_heartbeat)]


class _Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class SizesOut(_Read):
    buckets: dict[str, int]
    total: int


class UsageOut(_Read):
    messages: SizesOut
    tokens: SizesOut
    active_sessions: dict[str, int]
    oldest_pending_indexing_s: float
    write_behind_lag_s: float
    pending_indexing_sessions: int
    write_behind_documents: int
    store_memory_bytes: int


class StatusOut(_Read):
    """Readiness, queues and staleness of the whole service; counts of the caller's tenant."""

    ready: bool
    checks: dict[str, str]
    queues: dict[str, int]
    usage: UsageOut
    stale_chunks: int
    sessions: int
    users: int
    facts: int
    documents: int


class SessionRowOut(_Read):
    session_id: str
    user_id: str
    messages: int
    tokens: int
    pending: int
    trimmed: int
    last_active: datetime


class SessionPageOut(_Read):
    total: int
    offset: int
    sessions: list[SessionRowOut]


class KeyOut(_Read):
    key_id: str
    tenant: str
    role: str
    created_at: str | None


class KeysOut(BaseModel):
    keys: list[KeyOut]


@router.get("/status")
async def status(svc: Svc, caller: Admin, heartbeat: Beat) -> StatusOut:
    found = await run_in_threadpool(observability.service_status, svc, heartbeat, caller.tenant)
    return StatusOut.model_validate(found)


@router.get("/sessions")
async def sessions(
    svc: Svc,
    caller: Admin,
    offset: int = Query(0, ge=0, le=MaxOffset),
    limit: int = Query(50, ge=1, le=1000),
) -> SessionPageOut:
    """The tenant's sessions, the latest write first."""
    page = await run_in_threadpool(observability.list_sessions, svc, caller.tenant, offset, limit)
    return SessionPageOut.model_validate(page)


@router.get("/keys")
async def list_keys(caller: Admin, keys: Keys) -> KeysOut:
    found = await run_in_threadpool(keys_uc.list_keys, keys, caller)
    return KeysOut(keys=[KeyOut.model_validate(k) for k in found])


@router.delete("/keys/{key_id}", status_code=204, responses=responses(e.NotFound, e.InvalidInput))
async def revoke_key(key_id: str, svc: Svc, caller: Admin, keys: Keys) -> Response:
    """Revoke one of the tenant's keys at once (audited); not the key making the call."""
    await run_in_threadpool(keys_uc.revoke_key, svc, keys, caller, key_id)
    return Response(status_code=204)
