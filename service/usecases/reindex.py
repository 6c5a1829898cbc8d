"""Re-index: rebuild every document of a tenant for the current embedding model and chunker.

No serving gap: each document's old version serves until its new one is live (the versioned
switch). Resumable: the job walks documents in id order and records its cursor, under a lease
that a crashed worker stops renewing. Idempotent: a document already live at its target
version is skipped, a build interrupted by a crash is finished at its own sequence.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import time
from dataclasses import dataclass
from typing import Any, Literal

import structlog

from service.domain.chunking import ChunkerConfig, document_version
from service.domain.errors import StoreUnavailable
from service.domain.models import Principal
from service.tasks import REINDEX
from service.usecases import documents
from service.usecases.jobs import new_job_id, start_job
from service.usecases.services import Services

log = structlog.get_logger()

PAGE = 100
OUTCOMES = ("rebuilt", "unchanged", "skipped", "superseded", "failed")


@dataclass(frozen=True, slots=True)
class ReindexStarted:
    """The re-index a request queued, or the open one it found instead (`already_running`)."""

    job_id: str
    status: Literal["queued", "already_running"]
    embedding_model: str
    chunker: ChunkerConfig  # what the rebuilt versions are hashed with
    documents: int | None = None  # counted when queued


def start_reindex(svc: Services, caller: Principal) -> ReindexStarted:
    """Queue a re-index of the caller's tenant; an open one is returned instead of a second."""
    tenant = caller.tenant
    model, chunker = svc.embedder.model_name, documents.chunker(svc)
    for open_tenant, job_id in svc.job_states.open_jobs():
        job = svc.job_states.get(open_tenant, job_id) if open_tenant == tenant else None
        if job is not None and job["kind"] == REINDEX and job["state"] in ("queued", "running"):
            return ReindexStarted(job_id, "already_running", model, chunker)
    total = svc.documents.count(tenant)
    job_id = new_job_id()
    # What versions are hashed with, in the audit entry and the job record.
    target = {"embedding_model": model, "chunker": dataclasses.asdict(chunker)}
    svc.audit.record(
        tenant,
        {
            "at": svc.clock().isoformat(),
            "who": caller.key_id,
            "action": "reindex",
            "job_id": job_id,
            "scope": {"all": True, **target},
            "affected": {"documents": total},
        },
    )
    record = {"total": total, **target}
    start_job(svc, tenant, REINDEX, record, {"tenant": tenant}, job_id, resumable=True)
    log.info("reindex.queued", tenant=tenant, job_id=job_id, documents=total, **target)
    return ReindexStarted(job_id, "queued", model, chunker, total)


def run_reindex(svc: Services, job_id: str, tenant: str) -> dict[str, Any]:
    """The `admin.reindex` job body; returns at once if another worker holds it or it is done."""
    owner = f"{socket.gethostname()}:{os.getpid()}:{job_id}"
    if not svc.job_states.lease(tenant, job_id, owner, svc.settings.job_lease_s):
        log.info("reindex.held_elsewhere", tenant=tenant, job_id=job_id)
        return {"status": "held_elsewhere"}
    try:
        job = svc.job_states.get(tenant, job_id)
        if job is None or job["state"] in ("done", "failed"):
            svc.job_states.close(tenant, job_id)
            return {"status": "finished"}
        return _run(svc, job, tenant, owner)
    finally:
        svc.job_states.release(tenant, job_id, owner)


def _run(svc: Services, job: dict[str, Any], tenant: str, owner: str) -> dict[str, Any]:
    job_id = str(job["job_id"])
    cursor = str(job.get("cursor") or "")
    counts = {k: 0 for k in (*OUTCOMES, "embedded", "reused")} | dict(job.get("counts") or {})
    done = int(job.get("done") or 0)
    total = max(svc.documents.count(tenant), 1)
    resumed = bool(cursor)
    svc.job_states.update(
        tenant, job_id, state="running", started=job.get("started") or time.time()
    )
    log.info("reindex.running", tenant=tenant, job_id=job_id, cursor=cursor, resumed=resumed)
    while page := svc.documents.ids(tenant, cursor, PAGE):
        for doc_id in page:
            outcome, built = _reindex_one(svc, tenant, doc_id)
            counts[outcome] += 1
            counts["embedded"] += built.get("embedded", 0)
            counts["reused"] += built.get("reused", 0)
            done, cursor = done + 1, doc_id
            svc.job_states.update(
                tenant,
                job_id,
                cursor=cursor,
                done=done,
                counts=counts,
                progress=round(min(done / total, 1.0), 4),
            )
            if not svc.job_states.lease(tenant, job_id, owner, svc.settings.job_lease_s):
                # Our lease lapsed and another worker took the job over: stop, it goes on.
                log.warning("reindex.lease_lost", tenant=tenant, job_id=job_id, cursor=cursor)
                return {"status": "lease_lost", **counts}
    svc.job_states.update(tenant, job_id, state="done", progress=1.0, counts=counts, done=done)
    svc.job_states.close(tenant, job_id)
    log.info("reindex.done", tenant=tenant, job_id=job_id, **counts)
    return {"status": "done", **counts}


def _reindex_one(svc: Services, tenant: str, doc_id: str) -> tuple[str, dict[str, Any]]:
    """Rebuild one document's latest write at the current configuration, if it needs it."""
    try:
        document = svc.documents.get(tenant, doc_id)
        if document is None or not document.versions:
            return "skipped", {}
        latest = document.versions[-1]
        if document.live is None and latest.status != "pending":
            return "skipped", {}  # dropped by an operator, or failed: nothing to serve
        text = svc.documents.source(tenant, doc_id, latest.version)
        if text is None:
            return "skipped", {}  # deleted meanwhile
        target = document_version(text, documents.chunker(svc), svc.embedder.model_name)
        live = svc.documents.live(tenant, [doc_id]).get(doc_id)
        if live is not None and live.version == target:
            # A crash may have come between an earlier run's switch and its marking.
            documents.settle_chunks(svc, tenant, doc_id, target)
            return "unchanged", {}
        chunks = documents.chunks_of(svc, text)
        if latest.version == target and latest.status == "pending":
            sequence = latest.sequence  # a build a crash interrupted (or a queued write): finish
        else:
            sequence = documents.add_pending_version(
                svc,
                tenant,
                doc_id,
                target,
                text,
                len(chunks),
                document.tags,
                document.metadata,
                svc.clock(),
            )
        expires_at = live.expires_at if live is not None else 0
        built = documents.build_version(
            svc, tenant, doc_id, target, sequence, expires_at, chunks=chunks
        )
    except StoreUnavailable:
        raise  # a store outage stops the job: Celery retries it, and it resumes at the cursor
    except Exception:
        # One bad document must not stop the tenant's re-index.
        log.exception("reindex.document_failed", tenant=tenant, doc_id=doc_id)
        return "failed", {}
    status = str(built["status"])
    return ("rebuilt" if status == "live" else "superseded"), built
