"""Re-index: every document rebuilt for the new configuration, no serving gap, resumable,
idempotent; and the sweep that removes stale chunks after their grace period."""

from __future__ import annotations

import dataclasses
import io
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from service.adapters.hashing_embedder import HashingEmbedder
from service.adapters.tiktoken_tokenizer import TiktokenTokenizer
from service.api.app import create_app
from service.domain.chunking import document_version
from service.domain.models import Principal, VectorFilter
from service.domain.points import chunk_point_id
from service.reindex_client import follow
from service.runtime.container import Container, build_container
from service.settings import Settings
from service.usecases import documents, jobs, reindex
from service.usecases.context import ContextRequest, assemble_context
from service.usecases.services import Services
from workers.app import create_worker_app
from workers.runner import WorkerRunner

ADMIN = Principal("acme", frozenset({"admin", "client"}), "op")
PARAGRAPH = "Section {i}.{j}: the warehouse in city {i} ships orders within {j} business days."


def _text(i: int) -> str:
    return "\n\n".join(PARAGRAPH.format(i=i, j=j) for j in range(12))


@pytest.fixture
def rechunked(
    container: Container, settings: Settings, redis_url: str, tokenizer: TiktokenTokenizer
) -> Iterator[Container]:
    """The same stores, restarted with a new chunker configuration (what a re-index is for)."""
    changed = settings.model_copy(
        update={"chunk_max_tokens": 48, "chunk_overlap_tokens": 8, "job_lease_s": 5}
    )
    built = build_container(
        changed, redis_url, HashingEmbedder(), container.services.index, tokenizer
    )
    yield built
    built.redis.close()  # the shared index belongs to `container`


def _ingest(svc: Services, n: int, tenant: str = "acme") -> dict[str, str]:
    return {
        f"doc{i:03d}": documents.ingest_document(svc, tenant, f"doc{i:03d}", _text(i)).version
        for i in range(n)
    }


def _target(svc: Services, i: int) -> str:
    return document_version(_text(i), documents.chunker(svc), svc.embedder.model_name)


def _served_versions(svc: Services, query: str) -> dict[str, set[str]]:
    ctx = assemble_context(svc, "acme", ContextRequest("s", "u", 4000, query=query))
    served: dict[str, set[str]] = {}
    for item in ctx.items:
        if item["kind"] == "chunk":
            served.setdefault(item["doc_id"], set()).add(item["version"])
    return served


def test_reindex_rebuilds_every_document_without_a_serving_gap(
    container: Container, rechunked: Container
) -> None:
    old = _ingest(container.services, 12)
    svc = rechunked.services
    started = reindex.start_reindex(svc, ADMIN)
    assert started.status == "queued"
    assert started.documents == 12
    assert started.chunker.max_tokens == 48
    # Queued, not yet run (no worker): every document still serves its old version.
    served = _served_versions(svc, "warehouse city 3 ships orders")
    assert served
    assert all(v == {old[d]} for d, v in served.items())
    # A second request while it is open returns the same job, not a second one.
    again = reindex.start_reindex(svc, ADMIN)
    assert again == dataclasses.replace(started, status="already_running", documents=None)

    result = reindex.run_reindex(svc, started.job_id, "acme")
    assert result["status"] == "done"
    assert (result["rebuilt"], result["unchanged"], result["failed"]) == (12, 0, 0)
    job = svc.job_states.get("acme", started.job_id)
    assert job is not None
    assert (job["state"], job["progress"], job["done"]) == ("done", 1.0, 12)
    for i in range(12):
        live = svc.documents.live("acme", [f"doc{i:03d}"])[f"doc{i:03d}"]
        assert live.version == _target(svc, i) != old[f"doc{i:03d}"]
        record = svc.documents.get("acme", f"doc{i:03d}")
        assert record is not None
        assert [v.status for v in record.versions].count("live") == 1
    served = _served_versions(svc, "warehouse city 3 ships orders")
    assert served
    assert all(v == {_target(svc, int(d[3:]))} for d, v in served.items())
    assert svc.job_states.open_jobs() == []
    assert [e["action"] for e in svc.audit.recent("acme", 10)] == ["reindex"]

    # Idempotent: a second re-index finds nothing to do.
    second = reindex.start_reindex(svc, ADMIN)
    assert reindex.run_reindex(svc, second.job_id, "acme")["unchanged"] == 12


def test_a_crashed_reindex_resumes_at_its_cursor_and_finishes_interrupted_builds(
    container: Container, rechunked: Container
) -> None:
    _ingest(container.services, 8)
    svc = rechunked.services
    job_id = reindex.start_reindex(svc, ADMIN).job_id
    # Simulate a worker that rebuilt doc000-doc002, had doc003's build half done (pending
    # version recorded, chunks written, no switch), and died holding no lease.
    for i in range(3):
        reindex._reindex_one(svc, "acme", f"doc{i:03d}")
    seq = svc.documents.next_sequence("acme", "doc003")
    entry = dataclasses.replace(
        svc.documents.get("acme", "doc003").versions[-1],  # type: ignore[union-attr]
        version=_target(svc, 3),
        sequence=seq,
        status="pending",
    )
    svc.documents.add_version("acme", "doc003", entry, _text(3), [], {})
    svc.job_states.update("acme", job_id, state="running", cursor="doc002", done=3)
    # Another worker holds the lease: the job is not run twice.
    assert svc.job_states.lease("acme", job_id, "someone-else", 5)
    assert jobs.resume_open_jobs(svc) == []
    assert reindex.run_reindex(svc, job_id, "acme") == {"status": "held_elsewhere"}
    svc.job_states.release("acme", job_id, "someone-else")
    # Lease gone (the worker died): a starting worker resumes it.
    assert jobs.resume_open_jobs(svc) == [job_id]
    result = reindex.run_reindex(svc, job_id, "acme")
    assert (result["rebuilt"], result["failed"]) == (5, 0)  # doc003..doc007 only
    record = svc.documents.get("acme", "doc003")
    assert record is not None
    assert [v.sequence for v in record.versions if v.status == "live"] == [seq]  # finished
    assert [v.version for v in record.versions].count(_target(svc, 3)) == 1  # not duplicated
    for i in range(8):
        assert svc.documents.live("acme", [f"doc{i:03d}"])[f"doc{i:03d}"].version == _target(svc, i)
    # The queued duplicate message, when it finally runs, finds the job finished.
    assert reindex.run_reindex(svc, job_id, "acme") == {"status": "finished"}


def test_sweep_removes_stale_chunks_only_after_the_grace_period(container: Container) -> None:
    svc = container.services
    first = documents.ingest_document(svc, "acme", "d", _text(1))
    second = documents.ingest_document(svc, "acme", "d", _text(2))

    def chunks(version: str, status: str | None = None) -> int:
        must: dict[str, str | int | list[str]] = {"tenant": "acme", "version": version}
        if status:
            must["status"] = status
        return svc.index.count(VectorFilter(must=must))

    stale = chunks(first.version, "stale")
    assert stale == first.chunks
    assert stale > 0
    assert documents.sweep_stale(svc, 300) == {"removed": 0, "revived": 0}  # within grace
    later = dataclasses.replace(svc, clock=lambda: container.services.clock() + timedelta(hours=1))
    assert documents.sweep_stale(later, 300) == {"removed": stale, "revived": 0}
    assert chunks(first.version) == 0
    assert chunks(second.version, "live") == second.chunks


def test_sweep_never_removes_a_version_that_went_live_again(container: Container) -> None:
    svc = container.services
    first = documents.ingest_document(svc, "acme", "d", _text(1))
    assert first.chunks is not None
    documents.ingest_document(svc, "acme", "d", _text(2))
    # Written back to the first content: same version id, chunks re-marked by the rebuild...
    documents.ingest_document(svc, "acme", "d", _text(1))
    # ...but a racing marker can still say "stale" (the race the sweep must survive).
    ids = [chunk_point_id("acme", "d", first.version, i) for i in range(first.chunks)]
    svc.index.set_payload(ids, {"status": "stale", "stale_at": 0})
    counts = documents.sweep_stale(svc, 0)
    assert counts["revived"] == first.chunks
    served = _served_versions(svc, "warehouse city 1 ships orders")
    assert served == {"d": {first.version}}


def test_reindex_over_http_with_the_cli_progress(
    container: Container, rechunked: Container, redis_url: str
) -> None:
    _ingest(container.services, 5, "default")  # keyless mode: the single tenant
    runner = WorkerRunner(create_worker_app(rechunked.services, redis_url), rechunked.heartbeat, 1)
    runner.start()
    try:
        app = create_app(rechunked.services, rechunked.keys, rechunked.heartbeat)
        out = io.StringIO()
        with TestClient(app) as client:
            final = follow(client, True, out)
        assert final["state"] == "done"
        assert final["counts"]["rebuilt"] == 5
        lines = out.getvalue().splitlines()
        assert lines[0].startswith("re-index job ")
        assert lines[-1].startswith("[" + "#" * 30 + "] 5/5 100.0%")
    finally:
        runner.stop()


def test_reindex_is_admin_only(container: Container) -> None:
    key = container.keys.create("acme", "client")
    app = create_app(container.services, container.keys, container.heartbeat)
    with TestClient(app) as client:
        r = client.post("/v1/admin/reindex", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 403


def test_reindex_over_http_answers_202_then_200_for_the_open_job(
    container: Container, rechunked: Container
) -> None:
    _ingest(container.services, 3, "default")  # keyless mode: the single tenant
    app = create_app(rechunked.services, rechunked.keys, rechunked.heartbeat)
    target = {
        "embedding_model": rechunked.services.embedder.model_name,
        "chunker": {"max_tokens": 48, "overlap_tokens": 8, "encoding": "cl100k_base"},
    }
    with TestClient(app) as client:
        first = client.post("/v1/admin/reindex")
        again = client.post("/v1/admin/reindex")
    assert first.status_code == 202
    job_id = first.json()["job_id"]
    assert first.json() == {"job_id": job_id, "status": "queued", "documents": 3, **target}
    assert again.status_code == 200
    assert again.json() == {"job_id": job_id, "status": "already_running", **target}


def test_a_job_whose_task_fails_is_recorded_failed(
    container: Container, worker: WorkerRunner
) -> None:
    """A bug (here: a message the task cannot take) must not leave a job `queued` forever."""
    svc = container.services
    svc.job_states.create("acme", "j1", "admin.invalidate", {})
    svc.jobs.enqueue("admin.invalidate", {"job_id": "j1", "tenant": "acme", "bogus": 1})
    deadline = time.monotonic() + 30
    while (job := svc.job_states.get("acme", "j1")) and job["state"] != "failed":
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
    assert "bogus" in job["error"]


def test_a_crash_between_switch_and_marking_is_repaired_by_the_rerun(
    container: Container, rechunked: Container
) -> None:
    """The found-by-the-crash-test case: the switch happened, the chunk marking did not."""
    old = _ingest(container.services, 1)["doc000"]
    svc = rechunked.services
    assert reindex._reindex_one(svc, "acme", "doc000")[0] == "rebuilt"
    new = _target(svc, 0)
    chunk = VectorFilter(must={"tenant": "acme", "doc_id": "doc000"})
    svc.index.set_payload_where(chunk, {"status": "live"})  # as if marking never ran
    assert reindex._reindex_one(svc, "acme", "doc000")[0] == "unchanged"

    def count(version: str, status: str) -> int:
        must = {"tenant": "acme", "doc_id": "doc000", "version": version, "status": status}
        return svc.index.count(VectorFilter(must=dict(must)))

    assert count(old, "live") == 0
    assert count(old, "stale") > 0
    assert count(new, "live") == svc.documents.get("acme", "doc000").versions[-1].chunks  # type: ignore[union-attr]
