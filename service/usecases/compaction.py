"""Log compaction: fold the turns beyond the recent window into the session's rolling summary.

Serialized by compare-and-set on the summary's version: two racing jobs read the same version,
only one commits, the other changes nothing (the next trigger tries again). The causal barrier
and the window come from the domain (`foldable`). Then the log is trimmed: a turn's body leaves
Redis only once it is both summarized and indexed for recall (the store checks both,
atomically), and never in a full-fidelity session.
"""

from __future__ import annotations

import dataclasses

import structlog

from service.domain.models import Message, SessionInfo, VectorPoint
from service.domain.points import (
    piece_from_payload,
    segment_payload,
    segment_point_id,
    summary_scope_filter,
)
from service.domain.sparse import encode_document
from service.domain.summaries import (
    FIDELITIES,
    PIECE_TARGET_TOKENS,
    CompactionPolicy,
    Fidelity,
    Summary,
    SummaryPiece,
    foldable,
    topic_pieces,
)
from service.tasks import COMPACT
from service.usecases.embedding import embed_cached
from service.usecases.services import Services
from service.usecases.turns import turns_from_index

log = structlog.get_logger()


def fidelity(svc: Services, info: SessionInfo | None) -> Fidelity:
    """The session's own tier when it set one, else the configured default."""
    if info is not None and info.fidelity in FIDELITIES:
        return info.fidelity
    return svc.settings.summary_fidelity


def policy(svc: Services, info: SessionInfo | None = None) -> CompactionPolicy | None:
    s = svc.settings
    return CompactionPolicy.for_tier(
        fidelity(svc, info),
        s.summary_window_tokens,
        s.summary_threshold_tokens,
        s.summary_target_tokens,
        s.segment_slack_share,
    )


def compact_session(svc: Services, tenant: str, session_id: str, epoch: int) -> dict[str, object]:
    """One compaction step, then trim what it made trimmable; idempotent (nothing to fold, or a
    lost race, changes nothing)."""
    info = svc.sessions.info(tenant, session_id)
    rules = policy(svc, info)
    if rules is None or info is None or info.epoch != epoch:
        return {"status": "skipped"}
    result = _fold(svc, tenant, session_id, epoch, rules)
    # Also after a lost race or nothing to fold: a crash between a fold and its trim is
    # repaired by the next step. The store trims only summarized and indexed turns.
    trimmed = svc.sessions.trim(tenant, session_id, epoch)
    if trimmed:
        log.info("sessions.trimmed", tenant=tenant, session_id=session_id, turns=trimmed)
    return {**result, "trimmed": trimmed}


def _fold(
    svc: Services, tenant: str, session_id: str, epoch: int, rules: CompactionPolicy
) -> dict[str, object]:
    current = svc.summaries.get(tenant, session_id)
    start = current.last_seq + 1 if current else 0
    turns = svc.sessions.messages(tenant, session_id, start, -1)
    pending = svc.sessions.pending_ids(tenant, session_id)
    folded = foldable(turns, rules, pending)
    if not folded:
        return {"status": "nothing_to_fold"}
    text = svc.summarizer.summarize(current.text if current else "", folded, rules.target_tokens)
    summary = Summary(
        tenant=tenant,
        session_id=session_id,
        text=text,
        first_id=current.first_id if current else folded[0].id,
        last_id=folded[-1].id,
        first_seq=current.first_seq if current else folded[0].seq,
        last_seq=folded[-1].seq,
        version=(current.version if current else 0) + 1,
        messages=(current.messages if current else 0) + len(folded),
        tokens=svc.tokenizer.count(text, svc.settings.default_model),
        summarizer=svc.summarizer.name,
        created_at=svc.clock().isoformat(),
    )
    # Before the compare-and-set: a store outage fails the step (retried), it does not leave a
    # summary without its pieces. A lost race leaves pieces of turns folded anyway (readers
    # serve a piece only within the summary's range).
    pieces = _index_pieces(svc, tenant, session_id, epoch, folded, summary.version)
    expected = current.version if current else 0
    if not svc.summaries.put(summary, expected, epoch):
        log.info("sessions.compaction_lost_race", tenant=tenant, session_id=session_id)
        now = svc.sessions.info(tenant, session_id)
        if now is None or now.epoch != epoch:
            # Lost to a deletion (session or user): deletes win, the pieces go (issue 14).
            svc.index.delete(summary_scope_filter(tenant, session_id, epoch))
            log.info("sessions.pieces_revoked", tenant=tenant, session_id=session_id)
        return {"status": "lost_race"}
    if foldable(turns[len(folded) :], rules, pending):
        # The fold was capped (a backlog): the rest follows in the next step.
        svc.jobs.enqueue(COMPACT, {"tenant": tenant, "session_id": session_id, "epoch": epoch})
    log.info(
        "sessions.compacted",
        tenant=tenant,
        session_id=session_id,
        version=summary.version,
        folded=len(folded),
        last_seq=summary.last_seq,
        tokens=summary.tokens,
        summarizer=summary.summarizer,
        pieces=pieces,
    )
    return {"status": "compacted", "version": summary.version, "folded": len(folded)}


def _index_pieces(
    svc: Services,
    tenant: str,
    session_id: str,
    epoch: int,
    folded: list[Message],
    version: int,
) -> int:
    """The summary's second layer: one short summary per topic segment of the fold, embedded
    and indexed in the session's scope, so that it competes by relevance like a turn."""
    user_id = folded[0].user_id
    pieces = [
        SummaryPiece(
            session_id=session_id,
            text=svc.summarizer.summarize("", turns, PIECE_TARGET_TOKENS),
            first_id=turns[0].id,
            last_id=turns[-1].id,
            first_seq=turns[0].seq,
            last_seq=turns[-1].seq,
            version=version,
            started_at=turns[0].created_at,
            ended_at=turns[-1].created_at,
        )
        for turns in topic_pieces(folded)
    ]
    return _upsert_pieces(svc, tenant, user_id, epoch, [p for p in pieces if p.text.strip()])


def reindex_pieces(svc: Services, tenant: str, session_id: str, epoch: int, user_id: str) -> int:
    """Embed and index a session's topic pieces again, as of now (an operator's re-embedding:
    an invalidation cutoff hides what was indexed before it)."""
    where = summary_scope_filter(tenant, session_id, epoch)
    pieces: list[SummaryPiece] = []
    offset: str | None = None
    while True:
        hits, offset = svc.index.scroll(where, 256, offset)
        pieces += [piece_from_payload(h.payload)[0] for h in hits]
        if offset is None:
            return _upsert_pieces(svc, tenant, user_id, epoch, pieces, reuse=False)


def _upsert_pieces(
    svc: Services,
    tenant: str,
    user_id: str,
    epoch: int,
    pieces: list[SummaryPiece],
    reuse: bool = True,
) -> int:
    if not pieces:
        return 0
    vectors, _ = embed_cached(svc, tenant, [p.text for p in pieces], reuse=reuse)
    now = svc.now_ms()
    svc.index.upsert(
        [
            VectorPoint(
                segment_point_id(tenant, p.session_id, epoch, p.first_seq),
                vector,
                segment_payload(tenant, user_id, p, epoch, now),
                encode_document(p.text),
            )
            for p, vector in zip(pieces, vectors, strict=True)
        ]
    )
    return len(pieces)


REBUILD_ATTEMPTS = 5


def rebuild_summary(
    svc: Services, tenant: str, session_id: str, epoch: int, seq: int
) -> dict[str, object]:
    """A turn the summary covered was deleted: summarize the covered turns again without it
    (compare-and-set; a racing fold makes us read again), and re-index the topic pieces of its
    range (a piece that held the turn is replaced)."""
    for _ in range(REBUILD_ATTEMPTS):
        info = svc.sessions.info(tenant, session_id)
        current = svc.summaries.get(tenant, session_id)
        if info is None or info.epoch != epoch:
            return {"status": "deleted"}
        if current is None or seq > current.last_seq:
            return {"status": "not_covered"}
        ids = svc.sessions.ids(tenant, session_id, current.first_seq, current.last_seq)
        turns = [m for m in svc.sessions.by_ids(tenant, session_id, ids) if m is not None]
        missing = set(ids) - {m.id for m in turns}
        # Trimmed turns come back from their recall vectors; the deleted one has none left.
        turns += turns_from_index(svc, tenant, session_id, epoch, missing) if missing else []
        turns.sort(key=lambda m: m.seq)
        target = svc.settings.summary_target_tokens
        text = svc.summarizer.summarize("", turns, target) if turns else ""
        summary = dataclasses.replace(
            current,
            text=text,
            version=current.version + 1,
            tokens=svc.tokenizer.count(text, svc.settings.default_model),
            summarizer=svc.summarizer.name,
            created_at=svc.clock().isoformat(),
        )
        ranges = _drop_pieces_covering(svc, tenant, session_id, epoch, seq)
        covering = [m for m in turns if any(lo <= m.seq <= hi for lo, hi in ranges)]
        if covering:
            _index_pieces(svc, tenant, session_id, epoch, covering, summary.version)
        if svc.summaries.put(summary, current.version, epoch):
            log.info(
                "sessions.summary_rebuilt",
                tenant=tenant,
                session_id=session_id,
                version=summary.version,
                without_seq=seq,
            )
            return {"status": "rebuilt", "version": summary.version}
    return {"status": "lost_race"}


def _drop_pieces_covering(
    svc: Services, tenant: str, session_id: str, epoch: int, seq: int
) -> list[tuple[int, int]]:
    """Delete the topic pieces whose range holds `seq`; returns their ranges."""
    where = summary_scope_filter(tenant, session_id, epoch)
    doomed: dict[str, tuple[int, int]] = {}
    offset: str | None = None
    while True:
        hits, offset = svc.index.scroll(where, 256, offset)
        for hit in hits:
            piece, _ = piece_from_payload(hit.payload)
            if piece.first_seq <= seq <= piece.last_seq:
                doomed[hit.id] = (piece.first_seq, piece.last_seq)
        if offset is None:
            break
    svc.index.delete_ids(list(doomed))
    return list(doomed.values())
