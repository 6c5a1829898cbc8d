"""Operator routes (admin keys only): invalidate now, and the audit log of every such call."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from service.api.deps import Admin, Svc
from service.api.schemas import InvalidateIn
from service.usecases import admin

router = APIRouter(prefix="/v1/admin", tags=["admin"])


@router.post("/invalidate")
async def invalidate(body: InvalidateIn, svc: Svc, caller: Admin) -> dict[str, Any]:
    scope = admin.Scope(**body.scope.model_dump())
    return await run_in_threadpool(admin.invalidate, svc, caller, scope, body.action)


@router.get("/audit")
async def audit(
    svc: Svc, caller: Admin, limit: int = Query(100, ge=1, le=10_000)
) -> dict[str, Any]:
    entries = await run_in_threadpool(admin.audit_log, svc, caller, limit)
    return {"entries": entries}
