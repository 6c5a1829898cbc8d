"""Crash safety: SIGKILL the worker process in the middle of a re-index of 200 documents,
restart it, and every document ends live at exactly its latest version."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from service.adapters.edge_index import EdgeIndex
from service.adapters.hashing_embedder import HashingEmbedder
from service.adapters.tiktoken_tokenizer import TiktokenTokenizer
from service.domain.chunking import document_version
from service.domain.models import Principal, VectorFilter
from service.runtime.container import Container, build_container
from service.settings import Settings
from service.usecases import documents, reindex
from service.usecases.context import ContextRequest, assemble_context

DOCS = 200
NEW_CHUNKER = {"chunk_max_tokens": 48, "chunk_overlap_tokens": 8}
ENV = {
    "CMEM_CHUNK_MAX_TOKENS": "48",
    "CMEM_CHUNK_OVERLAP_TOKENS": "8",
    "CMEM_JOB_LEASE_S": "2",
    "CMEM_MAINTENANCE_INTERVAL_S": "1",
}


def _text(i: int) -> str:
    return "\n\n".join(
        f"Record {i}.{j}: depot {i} dispatches parcel batch {j} before {j + 6} o'clock."
        for j in range(14)
    )


def _container(
    settings: Settings, redis_url: str, edge: Path, tokenizer: TiktokenTokenizer
) -> Container:
    return build_container(settings, redis_url, HashingEmbedder(), EdgeIndex(edge, 384), tokenizer)


def _worker(redis_url: str, edge: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.workers.worker_process", redis_url, str(edge)],
        env={**os.environ, **ENV},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


def _stop(proc: subprocess.Popen[str], signum: int) -> None:
    proc.send_signal(signum)
    proc.wait(30)
    assert proc.stdout is not None
    proc.stdout.close()


def _wait(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
def test_sigkill_mid_reindex_then_restart_ends_every_document_at_its_latest_version(
    settings: Settings, redis_url: str, tokenizer: TiktokenTokenizer, tmp_path: Path
) -> None:
    edge = tmp_path / "edge"
    before = _container(settings, redis_url, edge, tokenizer)
    for i in range(DOCS):
        documents.ingest_document(before.services, "acme", f"doc{i:03d}", _text(i))
    before.close()  # the shard is the worker process's now

    changed = settings.model_copy(update=NEW_CHUNKER)
    control = _container(changed, redis_url, tmp_path / "scratch", tokenizer)  # no shared shard
    svc = control.services
    job_id = reindex.start_reindex(svc, Principal("acme", frozenset({"admin"}), "op")).job_id

    def job() -> dict:  # type: ignore[type-arg]
        found = svc.job_states.get("acme", job_id)
        assert found is not None
        return found

    worker = _worker(redis_url, edge)
    _wait(lambda: int(job().get("done") or 0) >= 40, 120, "40 documents re-indexed")
    _stop(worker, signal.SIGKILL)
    at_kill = job()
    assert at_kill["state"] == "running"
    assert 40 <= at_kill["done"] < DOCS, "the re-index finished before the kill: make it bigger"

    worker = _worker(redis_url, edge)  # resumes once the dead worker's lease lapses
    try:
        _wait(lambda: job()["state"] == "done", 120, "the resumed re-index")
    finally:
        _stop(worker, signal.SIGTERM)
    control.close()

    final = job()
    counts = final["counts"]
    assert counts["failed"] == 0
    assert counts["rebuilt"] + counts["unchanged"] == DOCS
    assert final["done"] >= DOCS

    after = _container(changed, redis_url, edge, tokenizer)
    try:
        check = after.services
        chunker = documents.chunker(check)
        for i in range(DOCS):
            doc_id = f"doc{i:03d}"
            target = document_version(_text(i), chunker, check.embedder.model_name)
            assert check.documents.live("acme", [doc_id])[doc_id].version == target
            record = check.documents.get("acme", doc_id)
            assert record is not None
            live = [v for v in record.versions if v.status == "live"]
            assert [v.version for v in live] == [target], doc_id  # one live version, the latest
            assert [v.version for v in record.versions].count(target) == 1, doc_id
            points = check.index.count(
                VectorFilter(must={"tenant": "acme", "doc_id": doc_id, "status": "live"})
            )
            target_points = check.index.count(
                VectorFilter(must={"tenant": "acme", "doc_id": doc_id, "version": target})
            )
            assert points == target_points == live[0].chunks, doc_id  # no mixed versions
        for q in ("depot 17 dispatches parcel", "batch 9 before 15 o'clock", "depot 150"):
            ctx = assemble_context(check, "acme", ContextRequest("s", "u", 3000, query=q))
            served = [i for i in ctx.items if i["kind"] == "chunk"]
            assert served
            for item in served:
                n = int(item["doc_id"][3:])
                assert item["version"] == document_version(
                    _text(n), chunker, check.embedder.model_name
                )
    finally:
        after.close()
