"""Operator invalidation: stop serving now, do the heavy work as a job, audit every call."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import structlog

from service.domain.documents import Document
from service.domain.errors import InvalidInput, NotFound
from service.domain.models import Principal
from service.domain.points import (
    document_chunks_filter,
    session_pieces_filter,
    session_turns_filter,
)
from service.domain.validation import check_id
from service.tasks import INVALIDATE
from service.usecases import compaction, documents, facts, indexing
from service.usecases.embedding import embed_cached
from service.usecases.jobs import new_job_id, start_job
from service.usecases.services import Services

log = structlog.get_logger()

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


@dataclass(frozen=True, slots=True)
class Invalidated:
    """What an invalidation stopped serving (before it returned) and the job that cleans up."""

    job_id: str
    affected: dict[str, Any]


def invalidate(svc: Services, caller: Principal, scope: Scope, action: Action) -> Invalidated:
    """Reads stop seeing the documents in scope before this returns; a job finishes the work."""
    tenant = caller.tenant
    users = [check_id(scope.user_id, "user_id")] if scope.user_id is not None else []
    sessions = [check_id(scope.session_id, "session_id")] if scope.session_id is not None else []
    document_scope = (
        scope.all
        or scope.doc_ids is not None
        or scope.tag
        or scope.older_than
        or scope.embedding_model
    )
    if not document_scope and not scope.caches and not users and not sessions:
        raise InvalidInput("scope selects nothing", field="scope")
    targets = _documents_in_scope(svc, tenant, scope) if document_scope else []
    now = svc.clock()
    work: list[dict[str, Any]] = []
    for document in targets:
        # At a fresh sequence: no job of an earlier write can switch the document back on.
        sequence = svc.documents.next_sequence(tenant, document.doc_id)
        documents.stop_serving(svc, tenant, document.doc_id, sequence, now)
        latest = document.versions[-1].version if document.versions else None
        work.append({"doc_id": document.doc_id, "sequence": sequence, "version": latest})
    # Users' facts and sessions' recalled turns: one cutoff each hides everything embedded
    # before it, at once; the job then drops or re-embeds them.
    at_ms = svc.now_ms()
    for user_id in users:
        svc.cutoffs.set(tenant, "user", user_id, at_ms)
    for session_id in sessions:
        svc.cutoffs.set(tenant, "session", session_id, at_ms)
    affected = {
        "documents": len(work),
        "users": len(users),
        "sessions": len(sessions),
        "caches": scope.caches,
    }
    payload = {
        "tenant": tenant,
        "action": action,
        "targets": work,
        "caches": scope.caches,
        "users": users,
        "sessions": sessions,
        "cutoff_ms": at_ms,
    }
    job_id = new_job_id()
    svc.audit.record(
        tenant,
        {
            "at": now.isoformat(),
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
    return Invalidated(job_id=job_id, affected=affected)


def run_invalidation(
    svc: Services,
    job_id: str,
    tenant: str,
    action: Action,
    targets: list[dict[str, Any]],
    caches: bool,
    users: list[str] | None = None,
    sessions: list[str] | None = None,
    cutoff_ms: int = 0,
) -> dict[str, int]:
    """The `admin.invalidate` job: clear caches, users' facts, sessions' recall, documents."""
    svc.job_states.update(tenant, job_id, state="running")
    counts = {"documents": 0, "rebuilt": 0, "cache_entries": 0, "facts": 0, "turns": 0}
    if caches:
        counts["cache_entries"] = svc.embedding_cache.clear(tenant)
    for user_id in users or []:
        counts["facts"] += _invalidate_user(svc, tenant, user_id, action, cutoff_ms)
    for session_id in sessions or []:
        counts["turns"] += _invalidate_session(svc, tenant, session_id, action)
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
            where = document_chunks_filter(tenant, doc_id, keep)
            svc.index.delete(where)  # a newer write that went live meanwhile keeps its chunks
        counts["documents"] += 1
        svc.job_states.update(tenant, job_id, progress=n / len(targets), counts=counts)
    svc.job_states.update(tenant, job_id, state="done", progress=1.0, counts=counts)
    return counts


def _invalidate_user(
    svc: Services, tenant: str, user_id: str, action: Action, cutoff_ms: int
) -> int:
    """drop: delete the user's facts recorded before the cutoff; reembed: new vectors for all
    active ones (current model, no cache)."""
    done = 0
    offset = 0
    while page := svc.facts.list_for_user(tenant, user_id, offset, 500):
        offset += len(page)
        active = [
            f
            for f in page
            if f.status == "active"
            and (action == "reembed" or f.recorded_at.timestamp() * 1000 < cutoff_ms)
        ]
        if action == "drop":
            for fact in active:
                try:
                    facts.delete_fact(svc, tenant, fact.id)
                except NotFound:
                    continue  # deleted meanwhile
                done += 1
            offset -= len(active)  # deleted facts leave the user's listing
        else:
            vectors, _ = embed_cached(svc, tenant, [f.text for f in active], reuse=False)
            svc.index.upsert(
                [facts.fact_point(svc, f, v) for f, v in zip(active, vectors, strict=True)]
            )
            done += len(active)
    return done


def _invalidate_session(svc: Services, tenant: str, session_id: str, action: Action) -> int:
    """drop: remove the session's recall vectors and summary pieces; reembed: index its turns
    and its pieces again afresh."""
    info = svc.sessions.info(tenant, session_id)
    where = session_turns_filter(tenant, session_id)
    if action == "drop" or info is None:
        removed = svc.index.count(where)
        svc.index.delete(where)
        svc.index.delete(session_pieces_filter(tenant, session_id))
        return removed
    # Every turn, trimmed ones included (they are re-embedded from their vectors' payloads).
    ids = svc.sessions.ids(tenant, session_id, 0, -1)
    turns = indexing.index_messages(svc, tenant, session_id, info.epoch, ids, reuse_vectors=False)
    compaction.reindex_pieces(svc, tenant, session_id, info.epoch, info.user_id)
    return turns


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
