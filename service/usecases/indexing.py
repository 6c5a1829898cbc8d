"""Indexing of turns into the vector store, so old turns can be recalled by relevance."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import structlog

from service.domain.models import Message, VectorPoint
from service.domain.points import message_payload, message_point_id, searchable_text
from service.domain.segments import SPAN, segment_starts
from service.domain.sparse import SHORT_TEXT, encode_turn
from service.tasks import COMPACT, EXTRACT_FACTS, INDEX_MESSAGES
from service.usecases.compaction import fidelity
from service.usecases.embedding import embed_cached
from service.usecases.services import Services
from service.usecases.sessions import extracts_facts
from service.usecases.turns import turns_from_index

log = structlog.get_logger()


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
        svc, tenant, [searchable_text(m) for m in before + textual], reuse=reuse_vectors
    )
    starts = segment_starts(
        vectors[: len(before)], vectors[len(before) :], svc.settings.segment_threshold
    )
    vectors = vectors[len(before) :]
    now = svc.now_ms()
    # Each turn's sparse vector also holds the words of the turn right before it (a reply).
    ordered = before + textual
    prior = {b.seq: a.content for a, b in itertools.pairwise(ordered) if b.seq == a.seq + 1}
    points = [
        _point(m, epoch, v, now, prior.get(m.seq, ""))
        for m, v in zip(textual, vectors, strict=True)
    ]
    svc.index.upsert(points)
    segments = [m.id for m, start in zip(textual, starts, strict=True) if start]
    if not svc.sessions.mark_indexed(tenant, session_id, epoch, list(message_ids), segments):
        # The session was deleted while we embedded: take back what we just wrote.
        svc.index.delete_ids([p.id for p in points])
        log.info("messages.index_revoked", tenant=tenant, session_id=session_id, points=len(points))
        return 0
    said = [m.id for m in textual if m.role == "user"]
    if said and extracts_facts(svc, info):
        # Off the hot path: facts are learned from what the user said, after it is indexed.
        svc.jobs.enqueue(
            EXTRACT_FACTS,
            {"tenant": tenant, "session_id": session_id, "epoch": epoch, "message_ids": said},
        )
    after = svc.sessions.info(tenant, session_id)
    svc.usage.indexing_left(tenant, session_id, after.pending if after is not None else 0)
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


def _point(
    m: Message, epoch: int, vector: list[float], indexed_at: int, before: str = ""
) -> VectorPoint:
    return VectorPoint(
        id=message_point_id(m.tenant, m.session_id, epoch, m.id),
        vector=vector,
        payload=message_payload(m, epoch, indexed_at),
        sparse=encode_turn(m.name, m.content, SHORT_TEXT, before),
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
