"""Operator routes (admin keys only): invalidate now, re-index, and the audit log of both."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Query, Response
from starlette.concurrency import run_in_threadpool

from service.api.deps import Admin, Svc
from service.api.schemas import InvalidateIn
from service.usecases import admin
from service.usecases import reindex as reindex_uc

router = APIRouter(prefix="/v1/admin", tags=["admin"])


@router.post("/invalidate")
async def invalidate(body: InvalidateIn, svc: Svc, caller: Admin) -> dict[str, Any]:
    scope = admin.Scope(**body.scope.model_dump())
    return await run_in_threadpool(admin.invalidate, svc, caller, scope, body.action)


@router.post("/reindex")
async def reindex(svc: Svc, caller: Admin) -> Response:
    """Rebuild every document for the current model and chunker; follow it at /v1/jobs/{id}."""
    status, body = await run_in_threadpool(reindex_uc.start_reindex, svc, caller)
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


@router.get("/audit")
async def audit(
    svc: Svc, caller: Admin, limit: int = Query(100, ge=1, le=10_000)
) -> dict[str, Any]:
    entries = await run_in_threadpool(admin.audit_log, svc, caller, limit)
    return {"entries": entries}
