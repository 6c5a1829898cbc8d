"""Operator invalidation: stop serving now, do the heavy work as a job, audit every call."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import structlog

from service.domain.documents import Document
from service.domain.errors import InvalidInput
from service.domain.models import Principal, VectorFilter
from service.domain.validation import check_id
from service.usecases import documents
from service.usecases.jobs import new_job_id, start_job
from service.usecases.services import Services

log = structlog.get_logger()

INVALIDATE = "admin.invalidate"
Action = Literal["drop", "reembed"]


@dataclass(frozen=True, slots=True)
class Scope:
    """What to invalidate; document criteria combine with AND, `all` takes every document."""

    doc_ids: list[str] | None = None
    tag: str | None = None
    older_than: datetime | None = None
    embedding_model: str | None = None
    user_id: str | None = None
    session_id: str | None = None
    all: bool = False
    caches: bool = False


def invalidate(svc: Services, caller: Principal, scope: Scope, action: Action) -> dict[str, Any]:
    """Reads stop seeing the documents in scope before this returns; a job finishes the work."""
    tenant = caller.tenant
    if scope.user_id is not None or scope.session_id is not None:
        raise InvalidInput(
            "invalidating by user_id or session_id is not available yet (facts and summaries "
            "are re-derived in a later release); use doc_ids, tag, older_than, "
            "embedding_model, all or caches",
            field="scope",
        )
    document_scope = (
        scope.all
        or scope.doc_ids is not None
        or scope.tag
        or scope.older_than
        or scope.embedding_model
    )
    if not document_scope and not scope.caches:
        raise InvalidInput("scope selects nothing", field="scope")
    targets = _documents_in_scope(svc, tenant, scope) if document_scope else []
    now = svc.clock().isoformat()
    work: list[dict[str, Any]] = []
    for document in targets:
        # The "nothing live" marker at a fresh sequence: reads stop serving the document now,
        # and no job of an earlier write can switch it back.
        sequence = svc.documents.next_sequence(tenant, document.doc_id)
        svc.documents.switch_live(tenant, document.doc_id, "", sequence, 0, now)
        latest = document.versions[-1].version if document.versions else None
        work.append({"doc_id": document.doc_id, "sequence": sequence, "version": latest})
    affected = {"documents": len(work), "caches": scope.caches}
    payload = {"tenant": tenant, "action": action, "targets": work, "caches": scope.caches}
    job_id = new_job_id()
    svc.audit.record(
        tenant,
        {
            "at": now,
            "who": caller.key_id,
            "action": action,
            "job_id": job_id,
            "scope": _scope_json(scope),
            "affected": affected,
        },
    )
    # The documents are unserved already (the call's promise); only the cleanup is queued.
    start_job(svc, tenant, INVALIDATE, {"action": action, **affected}, payload, job_id)
    log.info(
        "admin.invalidated",
        tenant=tenant,
        who=caller.key_id,
        action=action,
        job_id=job_id,
        **affected,
    )
    return {"job_id": job_id, "affected": affected}


def run_invalidation(
    svc: Services,
    job_id: str,
    tenant: str,
    action: Action,
    targets: list[dict[str, Any]],
    caches: bool,
) -> dict[str, int]:
    """The `admin.invalidate` job: clear caches, then drop or rebuild each document."""
    svc.job_states.update(tenant, job_id, state="running")
    counts = {"documents": 0, "rebuilt": 0, "cache_entries": 0}
    if caches:
        counts["cache_entries"] = svc.embedding_cache.clear(tenant)
    for n, item in enumerate(targets, 1):
        doc_id, sequence, version = item["doc_id"], item["sequence"], item["version"]
        if action == "reembed" and version:
            result = documents.build_version(
                svc, tenant, doc_id, version, sequence, 0, reuse_vectors=False
            )
            counts["rebuilt"] += result["status"] == "live"
        else:
            live = svc.documents.live(tenant, [doc_id]).get(doc_id)
            keep = live.version if live is not None and live.version else None
            where = VectorFilter(
                must={"tenant": tenant, "kind": "chunk", "doc_id": doc_id},
                must_not={"version": keep} if keep else {},
            )
            svc.index.delete(where)  # a newer write that went live meanwhile keeps its chunks
        counts["documents"] += 1
        svc.job_states.update(tenant, job_id, progress=n / len(targets), counts=counts)
    svc.job_states.update(tenant, job_id, state="done", progress=1.0, counts=counts)
    return counts


def audit_log(svc: Services, caller: Principal, limit: int) -> list[dict[str, Any]]:
    return svc.audit.recent(caller.tenant, limit)


def _documents_in_scope(svc: Services, tenant: str, scope: Scope) -> list[Document]:
    if scope.doc_ids is not None:
        found = [svc.documents.get(tenant, check_id(d, "doc_ids")) for d in scope.doc_ids]
        candidates = [d for d in found if d is not None]
    else:
        candidates = svc.documents.list(tenant, 0, 1_000_000)
    return [d for d in candidates if _matches(d, scope)]


def _matches(document: Document, scope: Scope) -> bool:
    live = document.live
    if scope.tag is not None and scope.tag not in document.tags:
        return False
    if scope.older_than is not None:
        cutoff = scope.older_than
        if cutoff.tzinfo is None:
            cutoff = cutoff.replace(tzinfo=UTC)
        went_live = live.live_at if live else None
        if went_live is None or datetime.fromisoformat(went_live) >= cutoff:
            return False
    return scope.embedding_model is None or (
        live is not None and live.model == scope.embedding_model
    )


def _scope_json(scope: Scope) -> dict[str, Any]:
    out = {k: v for k, v in asdict(scope).items() if v not in (None, False)}
    if scope.older_than is not None:
        out["older_than"] = scope.older_than.isoformat()
    return out
