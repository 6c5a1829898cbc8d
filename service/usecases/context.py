"""assemble_context: gather candidates from the stores, let the domain decide, keep a snapshot."""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import structlog

from service.domain.context import BudgetPolicy, ChunkHit, Inputs, assemble
from service.domain.errors import Conflict, InvalidInput, NotFound, StoreUnavailable
from service.domain.models import (
    Fact,
    Message,
    SessionInfo,
    VectorFilter,
    VectorHit,
    VectorQuery,
)
from service.domain.points import (
    chunk_filter,
    chunk_ref,
    facts_filter,
    message_from_payload,
    message_ref,
    session_recall_filter,
    user_recall_filter,
)
from service.domain.ranking import fuse_rounds
from service.domain.sparse import encode_query
from service.domain.summaries import Summary
from service.domain.validation import check_id
from service.usecases.embedding import embed_cached
from service.usecases.facts import check_fact_hits
from service.usecases.services import Services
from service.usecases.sessions import turns_from_index

log = structlog.get_logger()


@dataclass(frozen=True, slots=True)
class ContextRequest:
    """What a caller asks for; the tenant comes from the API key."""

    session_id: str
    user_id: str
    budget_tokens: int
    query: str | None = None
    response_reserve: int = 0
    model: str | None = None
    system_prompt: str | None = None
    tags: list[str] | None = None  # documents: only chunks of documents with any of these tags
    doc_ids: list[str] | None = None  # documents: only these
    recall_scope: Literal["session", "user"] = "session"  # old turns of this session, or all
    # of the user's sessions


def assemble_context(svc: Services, tenant: str, req: ContextRequest) -> dict[str, Any]:
    """Assemble the context for one LLM call; never over budget, every decision accounted for."""
    started = time.perf_counter()
    check_id(req.session_id, "session_id")
    check_id(req.user_id, "user_id")
    _check_budget(svc, req)
    model = req.model or svc.settings.default_model
    encoding = svc.tokenizer.encoding_for(model)  # unknown model -> 422 before any work

    def count(text: str) -> int:
        return svc.tokenizer.count(text, model)

    info = svc.sessions.info(tenant, req.session_id)
    if info is not None and info.user_id != req.user_id:
        raise Conflict(f"session {req.session_id!r} belongs to another user", field="user_id")
    query = req.query
    if query is None and info is not None:
        last = svc.sessions.last_user_message(tenant, req.session_id)
        query = last.content if last is not None else None
    available = req.budget_tokens - req.response_reserve
    # Turns are counted at append with the default model; most fetched counts are exact then.
    likely_exact = encoding == svc.tokenizer.encoding_for(svc.settings.default_model)
    summary = svc.summaries.get(tenant, req.session_id) if info is not None else None
    history, complete = _history(svc, tenant, info, available, likely_exact, summary)
    degraded: list[str] = []
    found = Retrieved()
    embed_ms = retrieve_ms = 0.0
    if query and query.strip():
        try:
            t0 = time.perf_counter()
            [vector] = svc.embedder.embed([query])
            t1 = time.perf_counter()
            embed_ms = (t1 - t0) * 1000
            found = _retrieve(svc, tenant, req, info, query, vector)
            retrieve_ms = (time.perf_counter() - t1) * 1000
        except StoreUnavailable as exc:
            # Vector store down: recent history only, flagged, never a 500.
            degraded.append(exc.store)  # `found` is still empty
            log.warning("context.degraded", tenant=tenant, store=exc.store, error=exc.message)
    s = svc.settings
    policy = BudgetPolicy(
        facts_min=s.context_facts_min,
        facts_share=s.context_facts_share,
        retrieved_min=s.context_retrieved_min,
        retrieved_share=s.context_retrieved_share,
        recall_min=s.context_recall_min,
        recall_share=s.context_recall_share,
    )
    state = svc.sessions.get_state(tenant, req.session_id)
    inputs = Inputs(
        available=available,
        system_prompt=req.system_prompt,
        state=state,
        facts=found.facts,
        recalled=found.recalled,
        history=history,
        retrieved=found.chunks,
        policy=policy,
        encoding=encoding,
        summary=summary,
        history_complete=complete,
        segment_slack=s.segment_slack_share,
    )
    t2 = time.perf_counter()
    result = assemble(inputs, count)
    pack_ms = (time.perf_counter() - t2) * 1000
    excluded = found.excluded
    snapshot_id = uuid.uuid4().hex
    response: dict[str, Any] = {
        "messages": result.messages,
        "usage": {"total": result.total, "by_component": result.by_component},
        "items": result.items,
        "excluded": excluded + result.excluded,
        "context_hash": result.context_hash,
        "snapshot_id": snapshot_id,
        "degraded": degraded,
    }
    elapsed_ms = (time.perf_counter() - started) * 1000
    # embed_query: the query's vector; retrieve: searches, truth checks, recall neighbours;
    # pack: the domain's packing and rendering; total: all of it, with the store reads.
    timings = {
        "total": round(elapsed_ms, 3),
        "embed_query": round(embed_ms, 3),
        "retrieve": round(retrieve_ms, 3),
        "pack": round(pack_ms, 3),
    }
    svc.snapshots.put(
        tenant,
        req.session_id,
        snapshot_id,
        {
            **response,
            "created_at": svc.clock().isoformat(),
            "request": {**dataclasses.asdict(req), "model": model, "query": query},
            "timings_ms": timings,
        },
        svc.settings.snapshot_retention_s,
    )
    response["timings_ms"] = timings
    log.info(
        "context.assembled",
        tenant=tenant,
        session_id=req.session_id,
        total=result.total,
        items=len(result.items),
        ms=round(elapsed_ms, 2),
        embed_ms=round(embed_ms, 2),
        retrieve_ms=round(retrieve_ms, 2),
        degraded=degraded,
    )
    return response


def get_snapshot(svc: Services, tenant: str, snapshot_id: str) -> dict[str, Any]:
    check_id(snapshot_id, "snapshot_id")
    snap = svc.snapshots.get(tenant, snapshot_id)
    if snap is None:
        raise NotFound(f"snapshot {snapshot_id!r} not found (or past its retention)")
    return snap


def _check_budget(svc: Services, req: ContextRequest) -> None:
    if req.budget_tokens <= 0:
        raise InvalidInput("budget_tokens must be positive", field="budget_tokens")
    if req.budget_tokens > svc.settings.max_budget_tokens:
        raise InvalidInput(
            f"budget_tokens may be at most {svc.settings.max_budget_tokens}", field="budget_tokens"
        )
    if not 0 <= req.response_reserve < req.budget_tokens:
        raise InvalidInput(
            "response_reserve must be >= 0 and less than budget_tokens", field="response_reserve"
        )


def _history(
    svc: Services,
    tenant: str,
    info: SessionInfo | None,
    available: int,
    likely_exact: bool,
    summary: Summary | None,
) -> tuple[list[Message], bool]:
    """Newest turns first, just enough to surely fill the budget, and whether that is all of
    them back to the summary.

    Stored counts are for the default model's encoding; another encoding can differ by some
    percent, hence the margin then. Packing decides with exact counts for the target model.
    """
    if info is None:
        return [], True
    max_tokens = available if likely_exact else int(available * 1.25) + 64
    # Turns the summary covers enter through it (and through recall), never twice.
    limit = info.message_count - (summary.last_seq + 1 if summary else 0)
    if svc.settings.history_max_messages:
        limit = min(limit, svc.settings.history_max_messages)
    turns = svc.sessions.recent(tenant, info.session_id, limit, max_tokens)
    return turns, len(turns) >= limit


@dataclass(slots=True)
class Retrieved:
    """What the vector search found, checked against the truth, and what it left out."""

    facts: list[tuple[Fact, float]] = field(default_factory=list)
    chunks: list[tuple[ChunkHit, float]] = field(default_factory=list)
    recalled: list[tuple[Message, float]] = field(default_factory=list)
    excluded: list[dict[str, Any]] = field(default_factory=list)


def _retrieve(
    svc: Services,
    tenant: str,
    req: ContextRequest,
    info: SessionInfo | None,
    query: str,
    vector: list[float],
) -> Retrieved:
    """Facts, document chunks and old turns, in one batched vector search."""
    s = svc.settings
    searches: dict[str, tuple[VectorFilter, int]] = {}
    if s.context_facts_limit > 0:
        searches["facts"] = (facts_filter(tenant, req.user_id), s.context_facts_limit)
    if s.context_retrieved_limit > 0:
        # Over-fetch: hits of superseded versions are dropped by the live-version check.
        searches["chunks"] = (_chunk_filter(tenant, req), s.context_retrieved_limit * 3)
    if (info is not None or req.recall_scope == "user") and s.context_recall_limit > 0:
        searches["recall"] = (_recall_filter(tenant, req, info), s.context_recall_limit)
    terms = encode_query(query)  # hybrid: exact terms (names, codes, numbers) next to meaning
    results = svc.index.query_many(vector, list(searches.values()), terms) if searches else []
    hits = dict(zip(searches, results, strict=True))
    found = Retrieved()
    if "facts" in hits:
        found.facts, excluded = check_fact_hits(svc, tenant, hits["facts"])
        found.excluded += excluded
    if "chunks" in hits:
        found.chunks, excluded = _check_chunk_hits(svc, tenant, hits["chunks"])
        found.chunks = found.chunks[: s.context_retrieved_limit]
        found.excluded += excluded
    if "recall" in hits:
        recall = hits["recall"]
        if s.context_recall_hops > 1 and recall:
            recall = _follow_up(svc, tenant, query, vector, searches["recall"], recall)
        found.recalled, excluded = _check_recall_hits(svc, tenant, req, info, recall)
        found.excluded += excluded
    return found


HOP_SEEDS = 2  # the best hits that each seed a second-round search


def _follow_up(
    svc: Services,
    tenant: str,
    query: str,
    vector: list[float],
    search: tuple[VectorFilter, int],
    first: list[VectorHit],
) -> list[VectorHit]:
    """A second retrieval round for questions that take two hops ("where is Lena's manager
    based?": one turn names the manager, another says where that person is). Each of the best
    hits seeds one search: the question plus that hit's text (its vector comes from the
    embedding cache). All rankings are fused, the best first-round hit kept in the lead; the
    second round may add up to half as many hits again."""
    seeds = [c for c in (message_ref(h.payload).content for h in first[:HOP_SEEDS]) if c]
    if not seeds:
        return first
    seed_vectors, _ = embed_cached(svc, tenant, seeds)
    where, limit = search
    queries = []
    for seed, seed_vector in zip(seeds, seed_vectors, strict=True):
        mixed = np.add(vector, seed_vector)
        mixed /= np.linalg.norm(mixed) or 1.0
        terms = encode_query(f"{query} {seed}")
        queries.append(VectorQuery(mixed.tolist(), where, max(1, limit // 4), terms))
    rounds = [first, *svc.index.query_batch(queries)]  # the seeds' searches: one call
    by_id = {h.id: h for hits in reversed(rounds) for h in hits}
    scores = fuse_rounds([h.id for h in first], [[h.id for h in hits] for hits in rounds[1:]])
    ranked = sorted(by_id, key=lambda i: -scores[i])[: limit + limit // 2]
    return [dataclasses.replace(by_id[i], score=scores[i]) for i in ranked]


def _chunk_filter(tenant: str, req: ContextRequest) -> VectorFilter:
    tags = [check_id(t, "tags") for t in req.tags or []]
    return chunk_filter(tenant, tags, [check_id(d, "doc_ids") for d in req.doc_ids or []])


def _check_chunk_hits(
    svc: Services, tenant: str, hits: Sequence[VectorHit]
) -> tuple[list[tuple[ChunkHit, float]], list[dict[str, Any]]]:
    """Rule 1: a chunk is served only if its version is its document's live one, unexpired.

    One round trip to the live-version map, so a half-finished cleanup can never leak.
    """
    refs = [chunk_ref(h.payload) for h in hits]
    live = svc.documents.live(tenant, [r.doc_id for r in refs])
    now = svc.clock().timestamp()
    found: list[tuple[ChunkHit, float]] = []
    excluded: list[dict[str, Any]] = []
    seen: set[str] = set()
    for hit, p in zip(hits, refs, strict=True):
        current = live.get(p.doc_id)
        behind = current.pending_since if current is not None else None
        chunk = ChunkHit(
            p.doc_id,
            p.version,
            p.chunk,
            p.text,
            None if behind is None else max(0.0, now - behind),
        )
        item_id = f"{chunk.doc_id}#{chunk.chunk}"
        if current is None or current.version != chunk.version:
            excluded.append(
                {"kind": "chunk", "id": item_id, "version": chunk.version, "reason": "stale"}
            )
        elif current.expired(now):
            excluded.append(
                {"kind": "chunk", "id": item_id, "version": chunk.version, "reason": "expired"}
            )
        elif item_id not in seen:
            seen.add(item_id)
            found.append((chunk, hit.score))
    return found, excluded


def _recall_filter(tenant: str, req: ContextRequest, info: SessionInfo | None) -> VectorFilter:
    if req.recall_scope == "user":
        # All of the user's sessions; each hit's epoch is checked against its session below.
        return user_recall_filter(tenant, req.user_id)
    assert info is not None
    return session_recall_filter(tenant, info.session_id, info.epoch)


def _check_recall_hits(
    svc: Services,
    tenant: str,
    req: ContextRequest,
    info: SessionInfo | None,
    hits: Sequence[VectorHit],
) -> tuple[list[tuple[Message, float]], list[dict[str, Any]]]:
    """Keep the hits whose turn is still its session's (same epoch, in the log or trimmed from
    it after summary and indexing), unless invalidated after; add a small recency prior and the
    turns around each hit."""
    by_session: dict[str, list[VectorHit]] = {}
    for hit in hits:
        by_session.setdefault(message_ref(hit.payload).session_id, []).append(hit)
    found: list[tuple[Message, float]] = []
    excluded: list[dict[str, Any]] = []
    epochs: dict[str, int] = {}
    for session_id, session_hits in by_session.items():
        known = info if info is not None and info.session_id == session_id else None
        current = known or svc.sessions.info(tenant, session_id)
        kept, dropped = _check_session_hits(svc, tenant, req.user_id, current, session_hits)
        found += kept
        excluded += dropped
        if current is not None:
            epochs[session_id] = current.epoch
    found = _recency_prior(found, svc.settings.context_recall_recency)
    radius = svc.settings.context_recall_neighbours
    return (_with_neighbours(svc, tenant, found, radius, epochs) if radius else found), excluded


def _check_session_hits(
    svc: Services,
    tenant: str,
    user_id: str,
    info: SessionInfo | None,
    hits: Sequence[VectorHit],
) -> tuple[list[tuple[Message, float]], list[dict[str, Any]]]:
    """The hits of one session (`info`: its header, None when it is gone)."""
    refs = [message_ref(h.payload) for h in hits]
    session_id = refs[0].session_id
    messages = svc.sessions.by_ids(tenant, session_id, [r.message_id for r in refs])
    cutoff = svc.cutoffs.get(tenant, "session", session_id)
    trimmed = info.trimmed if info else 0
    if info is not None and any(
        m is None and r.seq >= trimmed for r, m in zip(refs, messages, strict=True)
    ):
        # A turn gone from the log that `info` still counts as there: a compaction trimmed it
        # since `info` was read (trimming only grows within an epoch), or the session went.
        # Read the header again rather than call a summarized, indexed turn stale.
        fresh = svc.sessions.info(tenant, session_id)
        info = fresh if fresh is not None and fresh.epoch == info.epoch else None
        trimmed = info.trimmed if info else 0
    found: list[tuple[Message, float]] = []
    excluded: list[dict[str, Any]] = []
    for hit, p, message in zip(hits, refs, messages, strict=True):
        current = info is not None and info.user_id == user_id and p.epoch == info.epoch
        if message is None and current and p.seq < trimmed:
            message = message_from_payload(tenant, hit.payload)  # trimmed: summarized, indexed
        if p.indexed_at < cutoff:
            excluded.append({"kind": "message", "id": p.message_id, "reason": "invalidated"})
        elif message is None or not current:
            excluded.append({"kind": "message", "id": p.message_id, "reason": "stale"})
        else:
            found.append((message, hit.score))
    return found, excluded


def _recency_prior(
    found: list[tuple[Message, float]], weight: float
) -> list[tuple[Message, float]]:
    """Scores times (1 + weight * r), r in [0, 1] the hit's place in time among the hits: a
    tie-breaker towards the newer turn (a correction over what it corrects), never more."""
    if weight <= 0 or len(found) < 2:
        return sorted(found, key=lambda f: -f[1])
    times = [m.created_at.timestamp() for m, _ in found]
    lo, span = min(times), (max(times) - min(times)) or 1.0
    rescored = [
        (m, s * (1 + weight * (t - lo) / span)) for (m, s), t in zip(found, times, strict=True)
    ]
    return sorted(rescored, key=lambda f: -f[1])


NEIGHBOUR_WEIGHT = 0.01  # fused scores of hits lie within ~30x of each other


def _with_neighbours(
    svc: Services,
    tenant: str,
    found: list[tuple[Message, float]],
    radius: int,
    epochs: dict[str, int],
) -> list[tuple[Message, float]]:
    """Each hit followed by the turns around it (a question and its answer belong together),
    scored just below it; each turn once, at its best place. `epochs`: each session's current
    epoch, for turns trimmed from the log (they come from their recall vectors)."""
    seqs: dict[str, list[int]] = {}
    for m, _ in found:
        seqs.setdefault(m.session_id, []).append(m.seq)
    have = {m.id for m, _ in found}
    near: dict[str, Message] = {}
    for session_id, wanted in seqs.items():
        pairs = svc.sessions.around(tenant, session_id, wanted, radius)
        trimmed = {i for i, m in pairs if m is None and i not in have}
        near.update({m.id: m for _, m in pairs if m is not None})
        if trimmed:
            turns = turns_from_index(svc, tenant, session_id, epochs[session_id], trimmed)
            near.update({m.id: m for m in turns})
    by_place = {(m.session_id, m.seq): m for m in near.values()}
    # Neighbours rank below every hit: they take only budget the hits leave. A turn that is a
    # hit itself keeps its own score.
    out = list(found)
    seen = set(have)
    for message, score in found:
        for seq in range(message.seq - radius, message.seq + radius + 1):
            turn = by_place.get((message.session_id, seq))
            if turn is not None and turn.id not in seen and turn.content.strip():
                seen.add(turn.id)
                out.append((turn, score * NEIGHBOUR_WEIGHT))
    return sorted(out, key=lambda f: -f[1])
