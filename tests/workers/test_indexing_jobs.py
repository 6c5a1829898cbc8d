"""Indexing jobs: idempotent, never resurrect a deleted session, and catch up after a crash."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from datetime import UTC, datetime

import redis

from service.adapters.celery_queue import QUEUE
from service.adapters.hashing_embedder import HashingEmbedder
from service.domain.models import NewMessage, VectorFilter, VectorPoint
from service.domain.points import fact_point_id
from service.domain.sparse import encode_document
from service.runtime.container import Container
from service.usecases import sessions
from service.usecases.context import ContextRequest, assemble_context
from service.usecases.facts import find_facts, remember_fact
from service.usecases.indexing import index_messages
from service.usecases.migrations import backfill_scopes
from service.usecases.services import Services
from workers.app import create_worker_app
from workers.runner import WorkerRunner


def _append(svc: Services, tenant: str, n: int = 3) -> list[str]:
    msgs = [
        NewMessage(role="user", content=f"turn {i} about gardening", id=f"m{i}") for i in range(n)
    ]
    return sessions.append_messages(svc, tenant, "s", "u", msgs).new_ids


def _points(svc: Services, tenant: str) -> int:
    return svc.index.count(VectorFilter(must={"tenant": tenant, "session_id": "s"}))


def _wait_pending_zero(svc: Services, tenant: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        info = svc.sessions.info(tenant, "s")
        if info is not None and info.pending == 0:
            return
        time.sleep(0.05)
    raise AssertionError("indexing did not finish")


def test_real_worker_indexes_appended_turns(container: Container, worker, tenant: str) -> None:  # type: ignore[no-untyped-def]
    svc = container.services
    _append(svc, tenant, 5)
    _wait_pending_zero(svc, tenant)
    assert _points(svc, tenant) == 5
    info = svc.sessions.info(tenant, "s")
    assert info is not None
    assert info.indexed == 5


def test_running_a_job_twice_changes_nothing(container: Container, tenant: str) -> None:
    svc = container.services
    ids = _append(svc, tenant)
    assert index_messages(svc, tenant, "s", 0, ids) == 3
    assert index_messages(svc, tenant, "s", 0, ids) == 3
    assert _points(svc, tenant) == 3
    info = svc.sessions.info(tenant, "s")
    assert info is not None
    assert (info.indexed, info.pending) == (3, 0)


def test_job_for_a_deleted_session_writes_nothing(container: Container, tenant: str) -> None:
    svc = container.services
    ids = _append(svc, tenant)
    sessions.delete_session(svc, tenant, "s")
    assert index_messages(svc, tenant, "s", 0, ids) == 0
    assert _points(svc, tenant) == 0


class _DeletesWhileEmbedding(HashingEmbedder):
    """An embedder during whose work the session gets deleted (the race a tombstone must win)."""

    def __init__(self, svc: Services, tenant: str) -> None:
        super().__init__()
        self.svc, self.tenant = svc, tenant

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        sessions.delete_session(self.svc, self.tenant, "s")
        return super().embed(texts)


def test_delete_during_an_in_flight_job_wins(container: Container, tenant: str) -> None:
    svc = container.services
    ids = _append(svc, tenant)
    racing = dataclasses.replace(svc, embedder=_DeletesWhileEmbedding(svc, tenant))
    assert index_messages(racing, tenant, "s", 0, ids) == 0
    assert _points(svc, tenant) == 0
    assert svc.sessions.info(tenant, "s") is None


def test_worker_start_reconciles_turns_whose_job_was_lost(
    container: Container, redis_url: str, tenant: str
) -> None:
    svc = container.services
    # As if the process died right after the append, before its job was queued.
    batch = [(NewMessage(role="user", content="lost job", id="x"), "x", datetime.now(UTC), 5)]
    svc.sessions.append(tenant, "s", "u", batch)
    runner = WorkerRunner(create_worker_app(svc, redis_url), container.heartbeat, 1)
    runner.start()
    try:
        _wait_pending_zero(svc, tenant)
    finally:
        runner.stop()
    assert _points(svc, tenant) == 1


def test_turns_indexed_before_the_scope_field_are_recalled_after_the_backfill(
    container: Container, redis_url: str, tenant: str
) -> None:
    svc = container.services
    ids = sessions.append_messages(
        svc,
        tenant,
        "s",
        "u",
        [NewMessage(role="user", content="The boat is called Wavecutter", id="boat")]
        + [NewMessage(role="user", content=f"filler turn {i}", id=f"f{i}") for i in range(30)],
    ).new_ids
    index_messages(svc, tenant, "s", 0, ids)
    redis.Redis.from_url(redis_url).delete(QUEUE)  # the append's own job: done just above
    # As an earlier release indexed them: no `scope` in the payload.
    [boat] = svc.index.scroll(VectorFilter(must={"tenant": tenant, "message_id": "boat"}), 1)[0]
    old = {k: v for k, v in boat.payload.items() if k != "scope"}
    [vector] = HashingEmbedder().embed(["The boat is called Wavecutter"])
    svc.index.upsert([VectorPoint(boat.id, vector, old, encode_document(old["content"]))])

    def recalled() -> list[str]:
        request = ContextRequest("s", "u", 120, query="what is the boat called")
        ctx = assemble_context(svc, tenant, request)
        return [i["id"] for i in ctx.items if i["component"] == "recall"]

    assert "boat" not in recalled()  # recall filters on `scope` alone
    runner = WorkerRunner(create_worker_app(svc, redis_url), container.heartbeat, 1)
    runner.start()  # the worker's start queues the backfill
    try:
        deadline = time.monotonic() + 30
        while "boat" not in recalled() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        runner.stop()
    assert "boat" in recalled()
    assert backfill_scopes(svc) == 0  # done: nothing left without a scope


def test_facts_indexed_before_the_scope_field_are_found_after_the_backfill(
    container: Container, tenant: str
) -> None:
    svc = container.services
    kept = remember_fact(svc, tenant, "u", "Prefers the window seat", key="seat").fact
    old = remember_fact(svc, tenant, "u", "Prefers the aisle seat", key="seat2").fact
    remember_fact(svc, tenant, "u", "Prefers the middle seat", key="seat2")  # supersedes `old`
    # As an earlier release indexed them: no `scope` in the payload.
    for fact in (kept, old):
        [hit] = svc.index.retrieve([fact_point_id(tenant, fact.id)])
        payload = {k: v for k, v in hit.payload.items() if k != "scope"}
        [vector] = HashingEmbedder().embed([fact.text])
        svc.index.upsert([VectorPoint(hit.id, vector, payload)])
    [query] = HashingEmbedder().embed(["which seat"])

    def found() -> set[str]:
        return {f.id for f, _ in find_facts(svc, tenant, "u", query, 10)[0]}

    assert kept.id not in found()  # facts are read by `scope` alone
    assert backfill_scopes(svc) == 2
    assert kept.id in found()
    assert old.id not in found()  # superseded: its backfilled scope is not the active one
    assert backfill_scopes(svc) == 0
