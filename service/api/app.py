"""The FastAPI application factory: routes, error table, size limit, metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from service.api import admin, context, documents, facts, sessions
from service.api.errors import COMMON_RESPONSES, install_error_handlers
from service.api.mcp import mount_mcp
from service.api.middleware import LimitAndMeasure
from service.api.openapi import document_security
from service.api.schemas import ReadinessOut, StatusOut
from service.domain.errors import StoreUnavailable
from service.metrics import Metrics
from service.ports import ApiKeys, Heartbeat
from service.usecases.services import Services

NOT_READY = "A store or the worker is not ready: `{status: unavailable, checks: {...}}`."


def create_app(svc: Services, keys: ApiKeys, heartbeat: Heartbeat) -> FastAPI:
    """Build the API over already-built services (the composition root owns their lifetime)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with mcp_running():
            yield

    app = FastAPI(
        title="coherent-memory",
        version="0.1.0",
        description="Coherent, budgeted context for LLM applications.",
        lifespan=lifespan,
    )
    app.state.services = svc
    app.state.keys = keys
    app.state.metrics = metrics = Metrics()
    install_error_handlers(app)
    mcp_running = mount_mcp(app, svc, keys)
    for module in (sessions, facts, context, documents, admin):
        app.include_router(module.router, responses=COMMON_RESPONSES)
    app.add_middleware(
        LimitAndMeasure, metrics=metrics, max_request_bytes=svc.settings.max_request_bytes
    )

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> StatusOut:
        return StatusOut(status="ok")

    @app.get(
        "/readyz",
        tags=["ops"],
        response_model=ReadinessOut,
        responses={503: {"model": ReadinessOut, "description": NOT_READY}},
    )
    async def readyz() -> JSONResponse:
        checks = await run_in_threadpool(_readiness, svc, heartbeat)
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", "checks": checks}, 200 if ok else 503
        )

    @app.get("/metrics", tags=["ops"], response_class=PlainTextResponse)
    async def prometheus() -> Response:
        try:
            metrics.queue_depth.set(await run_in_threadpool(svc.jobs.depth))
        except StoreUnavailable:
            metrics.queue_depth.set(float("nan"))
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    document_security(app)
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
