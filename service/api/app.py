"""The FastAPI application factory: routes, error table, size limit, metrics."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from service.api import admin, context, documents, facts, sessions, users
from service.api.deps import admin as admin_key
from service.api.errors import COMMON_RESPONSES, install_error_handlers
from service.api.middleware import LimitAndMeasure
from service.api.protected_docs import install_protected_docs
from service.domain.errors import StoreUnavailable
from service.metrics import Metrics
from service.ports import ApiKeys, Heartbeat, Supervision
from service.usecases.services import Services

NOT_ALIVE = "A child process (Valkey) could not be restarted: restart the service."
NOT_READY = "A store or the worker is not ready: `{status: unavailable, checks: {...}}`."


def create_app(
    svc: Services, keys: ApiKeys, heartbeat: Heartbeat, supervision: Supervision | None = None
) -> FastAPI:
    """Build the API over already-built services (the composition root owns their lifetime);
    `supervision`: the embedded runtime's children, for /healthz and /readyz."""
    protected = svc.settings.ops_protected  # /docs, /openapi.json (a key), /metrics (admin)
    app = FastAPI(
        title="coherent-memory",
        version="0.1.0",
        description="Coherent, budgeted context for LLM applications.",
        openapi_url=None if protected else "/openapi.json",
        redoc_url=None if protected else "/redoc",
        docs_url=None if protected else "/docs",
    )
    if protected:
        install_protected_docs(app)
    app.state.services = svc
    app.state.keys = keys
    app.state.metrics = metrics = Metrics()
    install_error_handlers(app)
    for module in (sessions, facts, context, documents, admin, users):
        app.include_router(module.router, responses=COMMON_RESPONSES)
    app.add_middleware(
        LimitAndMeasure, metrics=metrics, max_request_bytes=svc.settings.max_request_bytes
    )

    @app.get("/healthz", tags=["ops"], responses={503: {"description": NOT_ALIVE}})
    async def healthz() -> JSONResponse:
        if supervision is not None and supervision.failed():
            return JSONResponse({"status": "failed", "reason": supervision.problem()}, 503)
        return JSONResponse({"status": "ok"})

    @app.get("/readyz", tags=["ops"], responses={503: {"description": NOT_READY}})
    async def readyz() -> JSONResponse:
        checks = await run_in_threadpool(_readiness, svc, heartbeat)
        if supervision is not None:
            checks["valkey"] = supervision.problem() or "ok"
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", "checks": checks}, 200 if ok else 503
        )

    @app.get("/metrics", tags=["ops"], dependencies=[Depends(admin_key)] if protected else [])
    async def prometheus() -> Response:
        try:
            metrics.queue_depth.set(await run_in_threadpool(svc.jobs.depth))
        except StoreUnavailable:
            metrics.queue_depth.set(float("nan"))
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


def _readiness(svc: Services, heartbeat: Heartbeat) -> dict[str, Any]:
    checks: dict[str, Any] = {}
    for name, probe in (("redis", svc.sessions.ping), ("vector_store", svc.index.ping)):
        try:
            probe()
            checks[name] = "ok"
        except StoreUnavailable as exc:
            checks[name] = exc.message
    try:
        checks["worker"] = "ok" if heartbeat.alive() else "no worker heartbeat"
    except StoreUnavailable as exc:
        checks["worker"] = exc.message
    return checks
