"""The metrics and logs an operator asks for first: state gauges, job outcomes, request ids."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from service.api.app import create_app
from service.domain.points import POINT_KINDS
from service.metrics import Metrics
from service.runtime.container import Container
from service.usecases import observability
from tests.api.conftest import wait_indexed
from workers.app import create_worker_app
from workers.runner import WorkerRunner


def samples(api: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape: (name, sorted labels) -> value."""
    response = api.get("/metrics")
    assert response.status_code == 200
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def value(scrape: dict[Any, float], name: str, **labels: str) -> float:
    return scrape[(name, tuple(sorted(labels.items())))]


@pytest.fixture
def idle_api(container: Container) -> Iterator[TestClient]:
    """The API with no worker: queued work stays queued."""
    with TestClient(create_app(container.services, container.keys, container.heartbeat)) as c:
        yield c


@pytest.fixture
def shared_api(container: Container, redis_url: str) -> Iterator[TestClient]:
    """API and worker on one registry, as in `cmem serve`."""
    worker_app = create_worker_app(container.services, redis_url, container.metrics)
    runner = WorkerRunner(worker_app, container.heartbeat, 2)
    runner.start()
    app = create_app(container.services, container.keys, container.heartbeat, container.metrics)
    try:
        with TestClient(app) as client:
            # The worker's start-up jobs (reconcile, resume, recounts) queue work of their own:
            # let them finish, so what follows is caused by the tests' requests alone.
            deadline = time.monotonic() + 30
            while not all(
                samples(client).get(("cmem_jobs_total", (("outcome", "success"), ("task", t))))
                for t in ("messages.reconcile", "jobs.resume", "vectors.recount", "facts.recount")
            ):
                assert time.monotonic() < deadline, "the worker's start-up jobs never ran"
                time.sleep(0.02)
            yield client
    finally:
        runner.stop()


def turns(n: int, words: int = 20) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"turn {i} " + "word " * words} for i in range(n)]


def test_process_and_runtime_collectors_are_exported(idle_api: TestClient) -> None:
    scrape = samples(idle_api)
    names = {name for name, _ in scrape}
    assert {"process_cpu_seconds_total", "process_resident_memory_bytes", "python_info"} <= names
    assert "python_gc_collections_total" in names


def test_session_sizes_and_activity_follow_appends_and_deletes(idle_api: TestClient) -> None:
    before = samples(idle_api)
    idle_api.post("/v1/sessions/a/messages", json={"user_id": "u", "messages": turns(3)})
    idle_api.post("/v1/sessions/b/messages", json={"user_id": "u", "messages": turns(30)})
    idle_api.post("/v1/sessions/b/messages", json={"user_id": "u", "messages": turns(1)})
    after = samples(idle_api)

    def grew(name: str, le: str) -> float:
        return value(after, name, le=le) - value(before, name, le=le)

    # a: 3 messages (bucket le=5); b: 31 (le=50). Cumulative buckets.
    assert grew("cmem_session_messages_bucket", "2") == 0
    assert grew("cmem_session_messages_bucket", "5") == 1
    assert grew("cmem_session_messages_bucket", "20") == 1
    assert grew("cmem_session_messages_bucket", "50") == 2
    assert grew("cmem_session_messages_bucket", "+Inf") == 2
    assert (
        value(after, "cmem_session_messages_gsum") - value(before, "cmem_session_messages_gsum")
        == 34
    )
    tokens = value(after, "cmem_session_tokens_gsum") - value(before, "cmem_session_tokens_gsum")
    assert tokens == sum(idle_api.get(f"/v1/sessions/{s}").json()["tokens"] for s in "ab")
    assert value(after, "cmem_active_sessions", window="5m") == 2
    # No per-session labels anywhere: the scrape's size does not grow with sessions.
    assert not any(dict(labels).get("session_id") for _, labels in after)

    assert idle_api.delete("/v1/sessions/b").status_code == 204
    gone = samples(idle_api)
    assert (
        value(gone, "cmem_session_messages_bucket", le="+Inf")
        == value(before, "cmem_session_messages_bucket", le="+Inf") + 1
    )
    assert value(gone, "cmem_active_sessions", window="5m") == 1


def test_staleness_gauges_show_waiting_work(idle_api: TestClient) -> None:
    idle_api.post("/v1/sessions/s/messages", json={"user_id": "u", "messages": turns(2)})
    put = idle_api.put(
        "/v1/documents/d", json={"text": "some words to index later", "policy": "write_behind"}
    )
    assert put.status_code == 202, put.text
    time.sleep(1.1)
    scrape = samples(idle_api)
    assert value(scrape, "cmem_indexing_pending_sessions") == 1
    assert value(scrape, "cmem_indexing_oldest_pending_seconds") >= 1
    assert value(scrape, "cmem_write_behind_documents") == 1
    assert value(scrape, "cmem_write_behind_lag_seconds") >= 1
    # The queued index and ingest jobs wait in the broker.
    assert value(scrape, "cmem_queue_depth", queue="cmem") >= 2
    assert value(scrape, "cmem_store_memory_bytes") > 0
    assert value(scrape, "cmem_state_up", source="usage") == 1


def test_staleness_clears_and_jobs_are_counted_once_the_worker_catches_up(
    shared_api: TestClient,
) -> None:
    shared_api.post("/v1/sessions/s/messages", json={"user_id": "u", "messages": turns(4)})
    put = shared_api.put("/v1/documents/d", json={"text": "words " * 50, "policy": "write_behind"})
    job = put.json()["job_id"]
    wait_indexed(shared_api, "s")
    deadline = time.monotonic() + 30
    while shared_api.get(f"/v1/jobs/{job}").json()["state"] != "done":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    scrape = samples(shared_api)
    assert value(scrape, "cmem_indexing_pending_sessions") == 0
    assert value(scrape, "cmem_indexing_oldest_pending_seconds") == 0
    assert value(scrape, "cmem_write_behind_documents") == 0
    assert value(scrape, "cmem_write_behind_lag_seconds") == 0
    assert value(scrape, "cmem_jobs_total", task="messages.index", outcome="success") >= 1
    assert value(scrape, "cmem_jobs_total", task="documents.ingest", outcome="success") == 1
    assert value(scrape, "cmem_job_seconds_count", task="documents.ingest") == 1


def test_storage_gauges_show_the_workers_last_recount(
    container: Container, worker: WorkerRunner
) -> None:
    svc = container.services
    app = create_app(svc, container.keys, container.heartbeat, Metrics())
    with TestClient(app) as api:
        api.post("/v1/sessions/s/messages", json={"user_id": "u", "messages": turns(3)})
        wait_indexed(api, "s")
        assert api.put("/v1/documents/d", json={"text": "words " * 50}).status_code == 200
        # A scrape never scans the index: the counts are the recount's (none yet here).
        observability.recount_vectors(svc, force=True)
        scrape = samples(api)
        assert value(scrape, "cmem_vector_points", kind="message") == 3
        assert value(scrape, "cmem_vector_points", kind="chunk") >= 1
        assert value(scrape, "cmem_vector_points", kind="fact") == 0
        assert value(scrape, "cmem_stale_chunks") == 0
        assert value(scrape, "cmem_vector_counts_age_seconds") < 5
        assert value(scrape, "cmem_vector_shard_bytes") > 0
        assert value(scrape, "cmem_state_up", source="storage") == 1
        # A new version leaves the old chunks stale until the sweep's grace period is over;
        # the gauge shows them from the next recount on (not sooner: it is not on the clock).
        assert api.put("/v1/documents/d", json={"text": "other words " * 40}).status_code == 200
        assert value(samples(api), "cmem_stale_chunks") == 0
        assert observability.recount_vectors(svc) is None  # not due yet
        observability.recount_vectors(svc, force=True)
        assert value(samples(api), "cmem_stale_chunks") >= 1


def test_the_worker_recounts_the_index_on_start(container: Container, redis_url: str) -> None:
    svc = container.services
    assert svc.usage.vector_counts() is None
    runner = WorkerRunner(create_worker_app(svc, redis_url), container.heartbeat, 1)
    runner.start()
    try:
        deadline = time.monotonic() + 30
        while svc.usage.vector_counts() is None:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        runner.stop()
    counted = svc.usage.vector_counts()
    assert counted is not None
    assert counted.points == dict.fromkeys(POINT_KINDS, 0)


def test_context_load_latency_is_a_histogram_per_step(idle_api: TestClient) -> None:
    body = {"session_id": "c", "user_id": "u", "budget_tokens": 200, "query": "anything"}
    assert idle_api.post("/v1/context", json=body).status_code == 200
    scrape = samples(idle_api)
    for step in ("embed", "retrieve", "pack", "total"):
        assert value(scrape, "cmem_context_load_seconds_count", component=step) == 1
    assert value(scrape, "cmem_context_load_seconds_sum", component="total") >= value(
        scrape, "cmem_context_load_seconds_sum", component="pack"
    )


def test_request_id_is_taken_returned_or_made(idle_api: TestClient) -> None:
    given = idle_api.get("/healthz", headers={"X-Request-ID": "req-123.abc"})
    assert given.headers["x-request-id"] == "req-123.abc"
    made = idle_api.get("/healthz").headers["x-request-id"]
    assert len(made) == 32
    assert made != idle_api.get("/healthz").headers["x-request-id"]
    unusable = idle_api.get("/healthz", headers={"X-Request-ID": "a b\tc" + "x" * 200})
    assert unusable.headers["x-request-id"] not in ("", "a b\tc" + "x" * 200)
    # Errors carry it too.
    missing = idle_api.get("/v1/sessions/nope", headers={"X-Request-ID": "r-404"})
    assert missing.status_code == 404
    assert missing.headers["x-request-id"] == "r-404"


def test_every_log_line_of_a_request_and_its_jobs_carries_its_id(
    shared_api: TestClient,
) -> None:
    with structlog.testing.capture_logs(
        processors=[structlog.contextvars.merge_contextvars]
    ) as logs:
        shared_api.post(
            "/v1/sessions/logged/messages",
            json={"user_id": "u", "messages": turns(3)},
            headers={"X-Request-ID": "append-1"},
        )
        put = shared_api.put(
            "/v1/documents/logged-doc",
            json={"text": "words " * 40, "policy": "write_behind"},
            headers={"X-Request-ID": "put-1"},
        )
        job = put.json()["job_id"]
        wait_indexed(shared_api, "logged")
        deadline = time.monotonic() + 30
        while shared_api.get(f"/v1/jobs/{job}").json()["state"] != "done":
            assert time.monotonic() < deadline
            time.sleep(0.05)
    mine = [e for e in logs if e.get("session_id") == "logged" or e.get("doc_id") == "logged-doc"]
    events = {e["event"] for e in mine}
    # The request's own lines and its jobs' lines (indexing runs in the worker thread pool).
    assert {
        "messages.appended",
        "messages.indexed",
        "documents.queued",
        "documents.built",
    } <= events
    for entry in mine:
        expected = "put-1" if entry.get("doc_id") == "logged-doc" else "append-1"
        assert entry.get("request_id") == expected, entry
    access = [e for e in logs if e["event"] == "http.request" and e["request_id"] == "append-1"]
    assert len(access) == 1
    assert access[0]["route"] == "/v1/sessions/{session_id}/messages"
    assert access[0]["status"] in (200, 201)
    # Every request got exactly one access event, each with its own id.
    ids = [e["request_id"] for e in logs if e["event"] == "http.request"]
    assert len(ids) == len(set(ids))


DASHBOARD = Path(__file__).resolve().parents[2] / "deploy/grafana/dashboards/cmem.json"
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "gaugehistogram": ("_bucket", "_gsum", "_gcount"),
    "gauge": ("",),
    "info": ("_info",),
}


def test_every_metric_the_dashboard_plots_is_exported(shared_api: TestClient) -> None:
    response = shared_api.get("/metrics")
    exported = {
        family.name + suffix
        for family in text_string_to_metric_families(response.text)
        for suffix in SUFFIXES[family.type]
    }
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    plotted = set()
    for expr in exprs:
        # Our series and the standard process/runtime ones (PromQL functions and label names
        # have other prefixes).
        for name in re.findall(r"[a-z_][a-z0-9_]*", expr):
            if name.startswith(("cmem_", "process_", "python_")):
                plotted.add(name)
    assert len(plotted) >= 20
    missing = sorted(plotted - exported)
    assert not missing, f"plotted but not exported: {missing}"
