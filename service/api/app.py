"""The FastAPI application factory: routes, error table, size limit, metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from service.api import (
    admin,
    ams_long_term,
    ams_routing,
    ams_working_memory,
    context,
    documents,
    facts,
    operator,
    sessions,
    users,
)
from service.api.access import RequestContext
from service.api.console import routes as console
from service.api.deps import admin as admin_key
from service.api.errors import COMMON_RESPONSES, install_error_handlers
from service.api.mcp import mount_mcp
from service.api.middleware import LimitAndMeasure
from service.api.openapi import document_security
from service.api.protected_docs import install_protected_docs
from service.api.schemas import ReadinessOut, StatusOut
from service.metrics import Metrics
from service.ports import ApiKeys, Heartbeat, Supervision
from service.usecases import observability
from service.usecases.services import Services

NOT_ALIVE = "A child process (Valkey) could not be restarted: restart the service."
NOT_READY = "A store or the worker is not ready: `{status: unavailable, checks: {...}}`."


def create_app(
    svc: Services,
    keys: ApiKeys,
    heartbeat: Heartbeat,
    metrics: Metrics | None = None,
    supervision: Supervision | None = None,
) -> FastAPI:
    """Build the API over already-built services (the composition root owns their lifetime).

    `metrics`: the process's registry when a worker shares it (embedded); else a new one.
    `supervision`: the embedded runtime's children, for /healthz and /readyz."""
    protected = svc.settings.ops_protected  # /docs, /openapi.json (a key), /metrics (admin)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with mcp_running():
            yield

    app = FastAPI(
        title="coherent-memory",
        version="0.1.0",
        description="Coherent, budgeted context for LLM applications.",
        openapi_url=None if protected else "/openapi.json",
        redoc_url=None if protected else "/redoc",
        docs_url=None if protected else "/docs",
        lifespan=lifespan,
    )
    if protected:
        install_protected_docs(app)
    app.state.services = svc
    app.state.keys = keys
    app.state.heartbeat = heartbeat
    app.state.metrics = metrics = metrics or Metrics()
    metrics.watch_state(svc)
    install_error_handlers(app)
    console.install(app)
    mcp_running = mount_mcp(app, svc, keys)
    for module in (sessions, facts, context, documents, admin, operator, users):
        app.include_router(module.router, responses=COMMON_RESPONSES)
    # Agent Memory Server's API (agent-memory-client): its own error shape, so not COMMON's.
    app.include_router(ams_routing.open_router)
    app.include_router(ams_working_memory.router)
    app.include_router(ams_long_term.router)
    app.add_middleware(
        LimitAndMeasure, metrics=metrics, max_request_bytes=svc.settings.max_request_bytes
    )
    app.add_middleware(RequestContext)  # added last: outermost, so a 413 gets an id too

    @app.get(
        "/healthz",
        tags=["ops"],
        response_model=StatusOut,
        responses={503: {"model": StatusOut, "description": NOT_ALIVE}},
    )
    async def healthz() -> JSONResponse:
        if supervision is not None and supervision.failed():
            return JSONResponse({"status": "failed", "reason": supervision.problem()}, 503)
        return JSONResponse({"status": "ok"})

    @app.get(
        "/readyz",
        tags=["ops"],
        response_model=ReadinessOut,
        responses={503: {"model": ReadinessOut, "description": NOT_READY}},
    )
    async def readyz() -> JSONResponse:
        checks = await run_in_threadpool(observability.readiness, svc, heartbeat)
        if supervision is not None:
            checks["valkey"] = supervision.problem() or "ok"
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", "checks": checks}, 200 if ok else 503
        )

    @app.get(
        "/metrics",
        tags=["ops"],
        response_class=PlainTextResponse,
        dependencies=[Depends(admin_key)] if protected else [],
    )
    async def prometheus() -> Response:
        # The state gauges read Valkey (and, every 30 s, the vector store): off the event loop.
        body = await run_in_threadpool(generate_latest, metrics.registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    document_security(app)
    return app
