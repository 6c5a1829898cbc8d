"""The FastAPI application factory: routes, error table, size limit, metrics."""

from __future__ import annotations

from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from service.api import admin, context, documents, facts, operator, sessions
from service.api.access import RequestContext
from service.api.console import routes as console
from service.api.errors import COMMON_RESPONSES, install_error_handlers
from service.api.middleware import LimitAndMeasure
from service.metrics import Metrics
from service.ports import ApiKeys, Heartbeat
from service.usecases import observability
from service.usecases.services import Services

NOT_READY = "A store or the worker is not ready: `{status: unavailable, checks: {...}}`."


def create_app(
    svc: Services, keys: ApiKeys, heartbeat: Heartbeat, metrics: Metrics | None = None
) -> FastAPI:
    """Build the API over already-built services (the composition root owns their lifetime).

    `metrics`: the process's registry when a worker shares it (embedded); else a new one."""
    app = FastAPI(
        title="coherent-memory",
        version="0.1.0",
        description="Coherent, budgeted context for LLM applications.",
    )
    app.state.services = svc
    app.state.keys = keys
    app.state.heartbeat = heartbeat
    app.state.metrics = metrics = metrics or Metrics()
    metrics.watch_state(svc)
    install_error_handlers(app)
    console.install(app)
    for module in (sessions, facts, context, documents, admin, operator):
        app.include_router(module.router, responses=COMMON_RESPONSES)
    app.add_middleware(
        LimitAndMeasure, metrics=metrics, max_request_bytes=svc.settings.max_request_bytes
    )
    app.add_middleware(RequestContext)  # added last: outermost, so a 413 gets an id too

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"], responses={503: {"description": NOT_READY}})
    async def readyz() -> JSONResponse:
        checks = await run_in_threadpool(observability.readiness, svc, heartbeat)
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", "checks": checks}, 200 if ok else 503
        )

    @app.get("/metrics", tags=["ops"])
    async def prometheus() -> Response:
        # The state gauges read Valkey (and, every 30 s, the vector store): off the event loop.
        body = await run_in_threadpool(generate_latest, metrics.registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return app
