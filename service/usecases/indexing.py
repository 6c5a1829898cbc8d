"""Indexing of turns into the vector store, so old turns can be recalled by relevance."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import structlog

from service.domain.models import Message, VectorPoint
from service.domain.sparse import SHORT_TEXT, encode_document
from service.usecases.compaction import COMPACT
from service.usecases.embedding import embed_cached
from service.usecases.services import Services
from service.usecases.sessions import INDEX_MESSAGES

log = structlog.get_logger()

_POINTS = uuid.UUID("6f1d2a8e-4c1b-4f0e-9a7d-3b5c2e1f0a9d")


def message_point_id(tenant: str, session_id: str, epoch: int, message_id: str) -> str:
    """Deterministic point id: re-running a job overwrites, never duplicates."""
    return str(uuid.uuid5(_POINTS, f"{tenant}/message/{session_id}/{epoch}/{message_id}"))


def index_messages(
    svc: Services,
    tenant: str,
    session_id: str,
    epoch: int,
    message_ids: Sequence[str],
    reuse_vectors: bool = True,
) -> int:
    """Embed and upsert the given turns; idempotent; a deleted session gets nothing back."""
    if svc.sessions.epoch(tenant, session_id) != epoch:
        log.info("messages.index_skipped", tenant=tenant, session_id=session_id, reason="deleted")
        return 0
    found = [m for m in svc.sessions.by_ids(tenant, session_id, message_ids) if m is not None]
    textual = [m for m in found if m.content.strip()]
    vectors, computed = embed_cached(svc, tenant, [m.content for m in textual], reuse=reuse_vectors)
    now = svc.now_ms()
    points = [_point(m, epoch, v, now) for m, v in zip(textual, vectors, strict=True)]
    svc.index.upsert(points)
    if not svc.sessions.mark_indexed(tenant, session_id, epoch, list(message_ids)):
        # The session was deleted while we embedded: take back what we just wrote.
        svc.index.delete_ids([p.id for p in points])
        log.info("messages.index_revoked", tenant=tenant, session_id=session_id, points=len(points))
        return 0
    if svc.settings.summary_fidelity != "full":
        # Newly indexed turns may unblock a compaction (the barrier waits for indexing).
        svc.jobs.enqueue(COMPACT, {"tenant": tenant, "session_id": session_id, "epoch": epoch})
    log.info(
        "messages.indexed",
        tenant=tenant,
        session_id=session_id,
        points=len(points),
        embedded=computed,
    )
    return len(points)


def _point(m: Message, epoch: int, vector: list[float], indexed_at: int) -> VectorPoint:
    return VectorPoint(
        id=message_point_id(m.tenant, m.session_id, epoch, m.id),
        vector=vector,
        payload={
            "tenant": m.tenant,
            "kind": "message",
            "session_id": m.session_id,
            "user_id": m.user_id,
            "message_id": m.id,
            "epoch": epoch,
            "seq": m.seq,
            "role": m.role,
            "created_at": int(m.created_at.timestamp()),
            "indexed_at": indexed_at,  # an operator invalidation cutoff hides older vectors
        },
        sparse=encode_document(m.content, SHORT_TEXT),
    )


def reconcile_pending(svc: Services) -> int:
    """Queue indexing for every appended turn still pending (after a crash or broker outage)."""
    queued = 0
    for tenant, session_id, epoch, ids in svc.sessions.pending():
        svc.jobs.enqueue(
            INDEX_MESSAGES,
            {"tenant": tenant, "session_id": session_id, "epoch": epoch, "message_ids": ids},
        )
        queued += len(ids)
    log.info("messages.reconciled", queued=queued)
    return queued
