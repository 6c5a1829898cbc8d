"""Indexing of turns into the vector store, so old turns can be recalled by relevance."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import structlog

from service.domain.models import Message, VectorPoint, session_scope
from service.domain.segments import SPAN, segment_starts
from service.domain.sparse import SHORT_TEXT, encode_document
from service.tasks import COMPACT, INDEX_MESSAGES
from service.usecases.compaction import fidelity
from service.usecases.embedding import embed_cached
from service.usecases.services import Services

log = structlog.get_logger()

_POINTS = uuid.UUID("6f1d2a8e-4c1b-4f0e-9a7d-3b5c2e1f0a9d")


RETRIEVE_BATCH = 256  # points per lookup when rebuilding trimmed turns


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
    """Embed and upsert the given turns, marking where topics change; idempotent; a deleted
    session gets nothing back."""
    info = svc.sessions.info(tenant, session_id)
    if info is None or info.epoch != epoch:
        log.info("messages.index_skipped", tenant=tenant, session_id=session_id, reason="deleted")
        return 0
    found = [m for m in svc.sessions.by_ids(tenant, session_id, message_ids) if m is not None]
    missing = set(message_ids) - {m.id for m in found}
    # Trimmed turns (operator re-embedding) live on in their recall vectors' payloads.
    found += turns_from_index(svc, tenant, session_id, epoch, missing) if missing else []
    found.sort(key=lambda m: m.seq)
    textual = [m for m in found if m.content.strip()]
    # The turns just before the batch, to tell where a new topic starts (cache hits mostly).
    before = _preceding(svc, tenant, session_id, textual)
    vectors, computed = embed_cached(
        svc, tenant, [m.content for m in before + textual], reuse=reuse_vectors
    )
    starts = segment_starts(
        vectors[: len(before)], vectors[len(before) :], svc.settings.segment_threshold
    )
    vectors = vectors[len(before) :]
    now = svc.now_ms()
    points = [_point(m, epoch, v, now) for m, v in zip(textual, vectors, strict=True)]
    svc.index.upsert(points)
    segments = [m.id for m, start in zip(textual, starts, strict=True) if start]
    if not svc.sessions.mark_indexed(tenant, session_id, epoch, list(message_ids), segments):
        # The session was deleted while we embedded: take back what we just wrote.
        svc.index.delete_ids([p.id for p in points])
        log.info("messages.index_revoked", tenant=tenant, session_id=session_id, points=len(points))
        return 0
    if fidelity(svc, info) != "full":
        # Newly indexed turns may unblock a compaction (the barrier waits for indexing).
        svc.jobs.enqueue(COMPACT, {"tenant": tenant, "session_id": session_id, "epoch": epoch})
    log.info(
        "messages.indexed",
        tenant=tenant,
        session_id=session_id,
        points=len(points),
        embedded=computed,
        segments=len(segments),
    )
    return len(points)


def _preceding(svc: Services, tenant: str, session_id: str, batch: list[Message]) -> list[Message]:
    if not batch or batch[0].seq == 0:
        return []
    first = batch[0].seq
    earlier = svc.sessions.messages(tenant, session_id, max(0, first - SPAN), first - 1)
    return [m for m in earlier if m.content.strip()]


def turns_from_index(
    svc: Services, tenant: str, session_id: str, epoch: int, ids: set[str]
) -> list[Message]:
    """Trimmed turns of this epoch, rebuilt from their recall vectors' payloads (fetched by
    point id: a lookup, not a filtered scan)."""
    points = [message_point_id(tenant, session_id, epoch, i) for i in sorted(ids)]
    out: list[Message] = []
    for start in range(0, len(points), RETRIEVE_BATCH):
        hits = svc.index.retrieve(points[start : start + RETRIEVE_BATCH])
        out += [m for m in (message_from_payload(tenant, h.payload) for h in hits) if m]
    return out


def message_from_payload(tenant: str, p: dict[str, Any]) -> Message | None:
    """A trimmed turn, from its recall vector's payload (None for a point without the text)."""
    if "content" not in p:
        return None
    return Message(
        tenant=tenant,
        session_id=str(p["session_id"]),
        user_id=str(p["user_id"]),
        id=str(p["message_id"]),
        seq=int(p["seq"]),
        role=p["role"],
        content=str(p["content"]),
        created_at=datetime.fromtimestamp(int(p["created_at"]), UTC),
        tokens=int(p.get("tokens") or 0),
        name=p.get("name"),
        tokens_encoding=str(p.get("enc") or ""),
    )


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
            "scope": session_scope(m.tenant, m.session_id, epoch),
            "seq": m.seq,
            "role": m.role,
            "created_at": int(m.created_at.timestamp()),
            "indexed_at": indexed_at,  # an operator invalidation cutoff hides older vectors
            # The turn itself: recall serves it from here once the log has trimmed it.
            "content": m.content,
            "name": m.name,
            "tokens": m.tokens,
            "enc": m.tokens_encoding,
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
