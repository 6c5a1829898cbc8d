"""Operator routes (admin keys only): invalidate now, re-index, and the audit log of both."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response
from starlette.concurrency import run_in_threadpool

from service.api.deps import Admin, Svc
from service.api.errors import responses
from service.api.schemas import AuditOut, InvalidatedOut, InvalidateIn, ReindexOut
from service.domain import errors as e
from service.usecases import admin
from service.usecases import reindex as reindex_uc

router = APIRouter(prefix="/v1/admin", tags=["admin"], responses=responses(e.Forbidden))


@router.post("/invalidate")
async def invalidate(body: InvalidateIn, svc: Svc, caller: Admin) -> InvalidatedOut:
    done = await run_in_threadpool(admin.invalidate, svc, caller, body.scope, body.action)
    return InvalidatedOut.model_validate(done)


@router.post(
    "/reindex",
    status_code=202,
    response_model_exclude_none=True,
    responses={200: {"model": ReindexOut, "description": "A re-index is open already: that job."}},
)
async def reindex(svc: Svc, caller: Admin, response: Response) -> ReindexOut:
    """Rebuild every document for the current model and chunker; follow it at /v1/jobs/{id}."""
    started = await run_in_threadpool(reindex_uc.start_reindex, svc, caller)
    if started.status == "already_running":
        response.status_code = 200
    return ReindexOut.model_validate(started)


@router.get("/audit")
async def audit(svc: Svc, caller: Admin, limit: int = Query(100, ge=1, le=10_000)) -> AuditOut:
    entries = await run_in_threadpool(admin.audit_log, svc, caller, limit)
    return AuditOut.model_validate({"entries": entries})
