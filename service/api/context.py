"""Context routes: assemble a context, fetch a snapshot."""

from __future__ import annotations

from collections import Counter

import orjson
from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from service.api.deps import Caller, Svc
from service.api.errors import responses
from service.api.schemas import ContextIn, ContextOut, PathId, SnapshotOut, SnapshotVerificationOut
from service.domain import errors as e
from service.metrics import Metrics
from service.usecases import snapshots
from service.usecases.context import ContextRequest, assemble_context, get_snapshot

router = APIRouter(tags=["context"])


@router.post(
    "/v1/context", response_model=ContextOut, responses=responses(e.Conflict, e.QuotaExceeded)
)
async def context(body: ContextIn, svc: Svc, caller: Caller, request: Request) -> Response:
    result = await run_in_threadpool(
        assemble_context, svc, caller.tenant, ContextRequest(**body.model_dump())
    )
    timings = result.timings_ms
    server_timing = (
        f"embed;dur={timings['embed_query']}, retrieve;dur={timings['retrieve']}, "
        f"pack;dur={timings['pack']}, assemble;dur={timings['total']}"
    )
    metrics: Metrics = request.app.state.metrics
    for component, tokens in result.by_component.items():
        metrics.context_tokens.labels(component).observe(tokens)
    for step, key in (
        ("embed", "embed_query"),
        ("retrieve", "retrieve"),
        ("pack", "pack"),
        ("total", "total"),
    ):
        metrics.context_seconds.labels(step).observe(timings[key] / 1000)
    # A context can exclude a hundred items: one labelled increment per reason, not per item.
    for reason, n in Counter(item["reason"] for item in result.excluded).items():
        metrics.excluded_items.labels(reason).inc(n)
    for store in result.degraded:
        metrics.degraded.labels(store).inc()
    # Already JSON-native: skip FastAPI's recursive encoder (~3 ms on a 4k-token context).
    return Response(
        orjson.dumps({**result.body(), "timings_ms": timings}),
        media_type="application/json",
        headers={"Server-Timing": server_timing},
    )


@router.post("/v1/snapshots/{snapshot_id}/verify", responses=responses(e.NotFound))
async def verify(snapshot_id: PathId, svc: Svc, caller: Caller) -> SnapshotVerificationOut:
    """Re-assemble the snapshot's request as of its time: same hash, or what differs and why."""
    found = await run_in_threadpool(snapshots.verify_snapshot, svc, caller.tenant, snapshot_id)
    return SnapshotVerificationOut.model_validate(found)


@router.get(
    "/v1/snapshots/{snapshot_id}", response_model=SnapshotOut, responses=responses(e.NotFound)
)
async def snapshot(snapshot_id: PathId, svc: Svc, caller: Caller) -> Response:
    snap = await run_in_threadpool(get_snapshot, svc, caller.tenant, snapshot_id)
    # As stored: a model's defaults (`"name": null`) would change the messages it hashed.
    return Response(orjson.dumps(snap), media_type="application/json")
