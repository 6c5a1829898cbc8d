"""Coherence suite: random interleavings of writes, deletes, reads and out-of-order jobs.

Invariants at every read (DESIGN.md rules 1, 2, 4, 7, 8): no chunk of a non-live version; never
two versions of one document in a context; a write-through write is read back at once; a deleted
document never comes back. At the end, with every job run (some twice, in random order), each
document is live at exactly its latest write.
"""

from __future__ import annotations

import dataclasses
import random
import uuid
from collections.abc import Sequence
from typing import Any

import pytest

from service import tasks
from service.domain.errors import StoreUnavailable
from service.domain.models import VectorPoint
from service.ports import VectorIndex
from service.runtime.container import Container
from service.usecases import documents
from service.usecases.context import ContextRequest, assemble_context
from service.usecases.services import Services

DOCS = ("alpha", "beta", "gamma")
WORDS = [
    "apple",
    "river",
    "gym",
    "locker",
    "invoice",
    "kyoto",
    "jazz",
    "budget",
    "roadmap",
    "basil",
    "train",
]


class RecordingQueue:
    """A JobQueue that keeps jobs for the test to run, in whatever order it picks."""

    def __init__(self) -> None:
        self.jobs: list[dict[str, Any]] = []

    def enqueue(self, task: str, kwargs: dict[str, Any]) -> str:
        assert task == tasks.INGEST
        self.jobs.append(kwargs)
        return str(kwargs["job_id"])

    def ping(self) -> None:
        return None

    def depth(self) -> int:
        return len(self.jobs)


class WritesFail:
    """The real VectorIndex, except that upserts fail while `down` (the vector store is away)."""

    def __init__(self, index: VectorIndex) -> None:
        self._index = index
        self.down = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._index, name)

    def upsert(self, points: Sequence[VectorPoint]) -> None:
        if self.down:
            raise StoreUnavailable("vector", "connection refused")
        self._index.upsert(points)


class Model:
    """What the live version of each document must be: the applied write with the highest
    sequence, unless a deletion outranks it (sequences count writes and deletes per document)."""

    def __init__(self) -> None:
        self.sequence: dict[str, int] = {}
        self.applied: dict[str, tuple[int, str]] = {}
        self.deleted: dict[str, int] = {}

    def next(self, doc: str) -> int:
        self.sequence[doc] = self.sequence.get(doc, 0) + 1
        return self.sequence[doc]

    def apply(self, doc: str, sequence: int, version: str) -> None:
        current, marker = self.applied.get(doc, (0, ""))
        newer = sequence > current or (sequence == current and marker == "")
        if newer and sequence > self.deleted.get(doc, 0):
            self.applied[doc] = (sequence, version)

    def expected(self, doc: str) -> str | None:
        sequence, version = self.applied.get(doc, (0, ""))
        if self.deleted.get(doc, 0) > sequence or not version:
            return None
        return version


def _text(rng: random.Random, doc: str, n: int) -> str:
    return f"{doc} document revision {n}: " + " ".join(rng.choice(WORDS) for _ in range(12))


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_random_interleavings_stay_coherent(container: Container, seed: int) -> None:
    rng = random.Random(seed)
    queue = RecordingQueue()
    svc: Services = dataclasses.replace(container.services, jobs=queue)
    tenant = "coh" + uuid.uuid4().hex[:8]
    latest: dict[str, str | None] = {}  # doc -> version of its latest write (None: deleted)
    model = Model()
    deleted_since: set[str] = set()
    revision = 0

    def read(check_own: tuple[str, str] | None = None) -> None:
        ctx = assemble_context(
            svc,
            tenant,
            ContextRequest(session_id="s", user_id="u", budget_tokens=2000, query=" ".join(WORDS)),
        )
        chunks = [i for i in ctx.items if i["kind"] == "chunk"]
        live = svc.documents.live(tenant, list(DOCS))
        for doc in DOCS:
            actual = live[doc].version if doc in live and live[doc].version else None
            assert actual == model.expected(doc), f"{doc}: live {actual}, model says otherwise"
        versions: dict[str, set[str]] = {}
        for item in chunks:
            versions.setdefault(item["doc_id"], set()).add(item["version"])
            assert live[item["doc_id"]].version == item["version"], "served a non-live version"
            assert item["doc_id"] not in deleted_since, "a deleted document came back"
        assert all(len(v) == 1 for v in versions.values()), "two versions of one document"
        if check_own is not None:
            doc, version = check_own
            assert versions.get(doc, {version}) == {version}, "write-through not read back"
            assert live[doc].version == version

    for _ in range(120):
        action = rng.choice(["write", "write", "write", "delete", "job", "job", "read"])
        doc = rng.choice(DOCS)
        if action == "write":
            revision += 1
            policy = rng.choice(["write_through", "write_behind", "invalidate"])
            written = documents.ingest_document(
                svc, tenant, doc, _text(rng, doc, revision), policy=policy
            )
            sequence = model.next(doc)
            assert written.sequence == sequence
            if policy == "write_through":
                model.apply(doc, sequence, written.version)
            elif policy == "invalidate":
                model.apply(doc, sequence, "")  # the old version stops serving now
            latest[doc] = written.version
            deleted_since.discard(doc)
            read((doc, written.version) if policy == "write_through" else None)
        elif action == "delete" and latest.get(doc):
            documents.delete_document(svc, tenant, doc)
            model.deleted[doc] = model.next(doc)
            latest[doc] = None
            deleted_since.add(doc)
            read()
        elif action == "job" and queue.jobs:
            job = queue.jobs.pop(rng.randrange(len(queue.jobs)))
            documents.run_ingest_job(svc, **job)
            model.apply(job["doc_id"], job["sequence"], job["version"])
            if rng.random() < 0.3:
                documents.run_ingest_job(svc, **job)  # at-least-once delivery: run it twice
            read()
        else:
            read()
    rng.shuffle(queue.jobs)
    for job in queue.jobs:
        documents.run_ingest_job(svc, **job)
        model.apply(job["doc_id"], job["sequence"], job["version"])
    read()
    live = svc.documents.live(tenant, list(DOCS))
    for doc, version in latest.items():
        if version is None:
            assert doc not in live or live[doc].version == ""
        else:
            assert live[doc].version == version, f"{doc} did not converge to its latest write"


def test_a_failed_ingest_attempt_is_not_reported_failed_while_it_is_retried(
    container: Container,
) -> None:
    """A store outage fails an attempt; the task is retried (up to 20 times). Until the last
    one fails, GET /v1/jobs/{id} must not say `failed`: a client would give up on a write that
    still lands."""
    index = WritesFail(container.services.index)
    svc = dataclasses.replace(container.services, index=index)
    queued = documents.ingest_document(
        svc, "acme", "doc", "Refunds take 14 days.", policy="write_behind"
    )
    assert queued.status == "pending"
    assert queued.job_id is not None
    assert queued.sequence is not None

    index.down = True
    job = {"job_id": queued.job_id, "version": queued.version, "sequence": queued.sequence}
    with pytest.raises(StoreUnavailable):
        documents.run_ingest_job(svc, tenant="acme", doc_id="doc", expires_at=0, **job)
    assert svc.job_states.get("acme", queued.job_id)["state"] == "running"  # type: ignore[index]
    index.down = False
    documents.run_ingest_job(svc, tenant="acme", doc_id="doc", expires_at=0, **job)  # the retry
    assert svc.job_states.get("acme", queued.job_id)["state"] == "done"  # type: ignore[index]
    assert svc.documents.live("acme", ["doc"])["doc"].version == queued.version
