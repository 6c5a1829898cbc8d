"""assemble_context: gather candidates from the stores, let the domain decide, keep a snapshot.

Gather (the session's head and recent turns, the query's vector, `recall.retrieve` for facts,
chunks and earlier turns), decide (`domain.context.assemble`: one packing mechanism), record
(a snapshot, a log line) — each a named step below.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import numpy as np
import structlog

from service.domain.chat_format import ChatMessage
from service.domain.context import STRATEGY_NAMES, Assembly, Inputs, Policy, assemble
from service.domain.errors import Conflict, InvalidInput, NotFound, StoreUnavailable
from service.domain.models import Excluded, Message, SessionInfo
from service.domain.points import (
    chunk_filter,
    facts_by_id_filter,
    facts_filter,
    summary_scope_filter,
)
from service.domain.summaries import Summary, SummaryPiece
from service.domain.validation import check_id
from service.usecases.embedding import embed_cached
from service.usecases.facts import valid_fact_ids
from service.usecases.quotas import quota_limit, refuse_snapshot
from service.usecases.recall import Retrieved, Search, recall_filter, retrieve
from service.usecases.seen_facts import note_served
from service.usecases.services import Services

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
    strategy: str | None = None  # balanced | recent | recall; None: the configured default
    min_relevance: float | None = None  # None: the configured default
    as_of: datetime | None = None  # facts valid at this event time (None: now)
    known_at: datetime | None = None  # facts as recorded at this time (None: now)


@dataclass(frozen=True, slots=True)
class AssembledContext:
    """The context for one LLM call and the account of how it was made."""

    messages: list[ChatMessage]
    total: int
    by_component: dict[str, int]
    items: list[dict[str, Any]]
    excluded: list[Excluded]
    context_hash: str
    snapshot_id: str
    degraded: list[str]
    timings_ms: dict[str, float] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        """The documented response shape (ContextOut), JSON-native."""
        return {
            "messages": self.messages,
            "usage": {"total": self.total, "by_component": self.by_component},
            "items": self.items,
            "excluded": self.excluded,
            "context_hash": self.context_hash,
            "snapshot_id": self.snapshot_id,
            "degraded": self.degraded,
        }


@dataclass(slots=True)
class _Gathered:
    """Everything read from the stores for one context."""

    info: SessionInfo | None
    query: str | None
    summary: Summary | None
    recent: list[Message]
    state: dict[str, Any] | None
    found: Retrieved = field(default_factory=Retrieved)
    summary_relevance: float = 0.0
    degraded: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


def assemble_context(
    svc: Services, tenant: str, req: ContextRequest, record: bool = True
) -> AssembledContext:
    """Assemble the context for one LLM call; never over budget, every decision accounted for.
    `record=False`: keep no snapshot (a replay, to verify an earlier one)."""
    started = time.perf_counter()
    policy = _policy(svc, req)
    model = req.model or svc.settings.default_model
    encoding = svc.tokenizer.encoding_for(model)  # unknown model -> 422 before any work
    available = req.budget_tokens - req.response_reserve
    got = _gather(svc, tenant, req, available, encoding)
    t0 = time.perf_counter()
    result = assemble(
        Inputs(
            available=available,
            system_prompt=req.system_prompt,
            state=got.state,
            recent=got.recent,
            recalled=got.found.recalled,
            facts=got.found.facts,
            retrieved=got.found.chunks,
            summary=got.summary,
            pieces=_pieces(got),
            summary_relevance=got.summary_relevance,
            similarity=got.found.similarity,
            encoding=encoding,
            policy=policy,
            query=got.query or "",
        ),
        lambda text: svc.tokenizer.count(text, model),
    )
    got.timings["pack"] = (time.perf_counter() - t0) * 1000
    got.timings["total"] = (time.perf_counter() - started) * 1000
    return _record(svc, tenant, req, model, got, result, record)


def _pieces(got: _Gathered) -> list[tuple[SummaryPiece, float]]:
    """Topic pieces within the summary's range (a piece of a fold that lost its race may reach
    past it: its turns are still in the log)."""
    last = got.summary.last_seq if got.summary is not None else -1
    return [(p, score) for p, score in got.found.pieces if p.last_seq <= last]


def _policy(svc: Services, req: ContextRequest) -> Policy:
    """Check the request; the packing policy it asks for over the configured defaults."""
    check_id(req.session_id, "session_id")
    check_id(req.user_id, "user_id")
    _check_budget(svc, req)
    s = svc.settings
    strategy = req.strategy or s.context_strategy
    if strategy not in STRATEGY_NAMES:
        raise InvalidInput(f"strategy must be one of {', '.join(STRATEGY_NAMES)}", field="strategy")
    floor = s.context_min_relevance if req.min_relevance is None else req.min_relevance
    if not 0 <= floor <= 1:
        raise InvalidInput("min_relevance must be between 0 and 1", field="min_relevance")
    return Policy(
        strategy=strategy,  # narrowed to a Strategy by the check above
        min_relevance=floor,
        latest_share=s.context_latest_share,
        tail_turns=s.context_tail_turns,
        tail_share=s.context_tail_share,
        summary_share=s.context_summary_share,
        hit_recency=s.context_recall_recency,
        speaker_named=s.context_recall_speaker,
    )


def _gather(
    svc: Services, tenant: str, req: ContextRequest, available: int, encoding: str
) -> _Gathered:
    """The session's head and recent turns, then (with a query) the searches. The vector store
    down leaves recent history only, flagged in `degraded`: never a 500."""
    # Turns are counted at append with the default model; most stored counts are exact then.
    # Another encoding can differ by some percent, hence the margin: packing decides with
    # exact counts for the target model.
    likely_exact = encoding == svc.tokenizer.encoding_for(svc.settings.default_model)
    head = svc.sessions.head(
        tenant,
        req.session_id,
        history_limit=svc.settings.history_max_messages,
        max_tokens=available if likely_exact else int(available * 1.25) + 64,
        want_last_user=req.query is None,
    )
    info = head.info
    if info is not None and info.user_id != req.user_id:
        raise Conflict(f"session {req.session_id!r} belongs to another user", field="user_id")
    query = req.query
    if query is None and head.last_user is not None:
        query = head.last_user.content
    # Turns the summary covers enter through it (and through recall), never twice.
    summary, recent, state = head.summary, head.recent, head.state
    got = _Gathered(info, query, summary, recent, state)
    got.timings = {"embed_query": 0.0, "retrieve": 0.0}
    if not query or not query.strip():
        return got
    try:
        t0 = time.perf_counter()
        [vector] = svc.embedder.embed([query])
        t1 = time.perf_counter()
        got.timings["embed_query"] = (t1 - t0) * 1000
        searches = _searches(svc, tenant, req, info, available)
        if searches:
            got.found = retrieve(svc, tenant, req.user_id, info, searches, query, vector)
        if summary is not None:
            got.summary_relevance, similarity = _summary_relevance(svc, tenant, summary, vector)
            got.found.similarity[f"summary:{summary.version}"] = similarity
        got.timings["retrieve"] = (time.perf_counter() - t1) * 1000
    except StoreUnavailable as exc:
        got.found = Retrieved()
        got.degraded.append(exc.store)
        log.warning("context.degraded", tenant=tenant, store=exc.store, error=exc.message)
    return got


def _searches(
    svc: Services, tenant: str, req: ContextRequest, info: SessionInfo | None, available: int
) -> list[Search]:
    s = svc.settings
    out: list[Search] = []
    facts = _facts_search(svc, tenant, req) if s.context_facts_limit > 0 else None
    if facts is not None:
        out.append(facts)
    if s.context_retrieved_limit > 0:
        tags = [check_id(t, "tags") for t in req.tags or []]
        docs = [check_id(d, "doc_ids") for d in req.doc_ids or []]
        # Over-fetch: hits of superseded versions are dropped by the live-version check.
        out.append(
            Search("chunks", chunk_filter(tenant, tags, docs), s.context_retrieved_limit * 3)
        )
    where = recall_filter(tenant, req.user_id, req.recall_scope, info)
    if where is not None and s.context_recall_limit > 0:
        # Enough turns to fill the budget when that takes more than the configured limit.
        keep = max(s.context_recall_limit, available // TOKENS_PER_TURN)
        out.append(Search("recall", where, min(keep, MAX_RECALL)))
    if info is not None and req.recall_scope == "session":
        out.append(Search("pieces", summary_scope_filter(tenant, info.session_id, info.epoch), 8))
    return out


TOKENS_PER_TURN = 32  # a typical recalled line, for how many turns a budget can hold
MAX_RECALL = 400


# Cosine similarity of the summary to the query mapped onto the relevance scale: about 0.1 is
# unrelated text for all-MiniLM-L6-v2, 0.5 and above is about the same thing.
SUMMARY_UNRELATED, SUMMARY_RELATED = 0.1, 0.5


def _summary_relevance(
    svc: Services, tenant: str, summary: Summary, vector: list[float]
) -> tuple[float, float]:
    """(relevance, cosine similarity) of the summary to the query; the summary's vector comes
    from the embedding cache (it changes only when a compaction writes a new version)."""
    [summary_vector], _ = embed_cached(svc, tenant, [summary.text])
    a, b = np.asarray(vector), np.asarray(summary_vector)
    cosine = float(a @ b / ((np.linalg.norm(a) * np.linalg.norm(b)) or 1.0))
    span = SUMMARY_RELATED - SUMMARY_UNRELATED
    return min(1.0, max(0.0, (cosine - SUMMARY_UNRELATED) / span)), cosine


def _facts_search(svc: Services, tenant: str, req: ContextRequest) -> Search | None:
    """The user's active facts, or (`as_of`/`known_at`) those valid then (None: none were)."""
    limit = svc.settings.context_facts_limit
    if req.as_of is None and req.known_at is None:
        return Search("facts", facts_filter(tenant, req.user_id), limit)
    accept = valid_fact_ids(svc, tenant, req.user_id, req.as_of, req.known_at)
    if not accept:
        return None
    where = facts_by_id_filter(tenant, req.user_id, sorted(accept))
    return Search("facts", where, limit, accept)


def _record(
    svc: Services,
    tenant: str,
    req: ContextRequest,
    model: str,
    got: _Gathered,
    result: Assembly,
    record: bool = True,
) -> AssembledContext:
    """The typed result, its snapshot (re-fetchable later) and one log line."""
    # embed_query: the query's vector; retrieve: searches, truth checks, recall neighbours;
    # pack: the domain's packing and rendering; total: all of it, with the store reads.
    timings = {k: round(v, 3) for k, v in got.timings.items()}
    context = AssembledContext(
        messages=result.messages,
        total=result.total,
        by_component=result.by_component,
        items=result.items,
        excluded=got.found.excluded + result.excluded,
        context_hash=result.context_hash,
        snapshot_id=uuid.uuid4().hex,
        degraded=got.degraded,
        timings_ms=timings,
    )
    if not record:
        return context
    note_served(svc, tenant, got.info, got.found.facts, result.items)  # the base of its writes
    max_bytes = quota_limit(svc, tenant, "snapshot_bytes")
    too_large = svc.snapshots.put(
        tenant,
        req.session_id,
        context.snapshot_id,
        {
            **context.body(),
            "created_at": svc.clock().isoformat(),
            "request": {**dataclasses.asdict(req), "model": model, "query": got.query},
            "timings_ms": timings,
        },
        svc.settings.snapshot_retention_s,
        max_bytes,
    )
    if too_large is not None:
        raise refuse_snapshot(max_bytes, too_large)
    log.info(
        "context.assembled",
        tenant=tenant,
        session_id=req.session_id,
        total=result.total,
        items=len(result.items),
        ms=round(got.timings["total"], 2),
        embed_ms=round(got.timings["embed_query"], 2),
        retrieve_ms=round(got.timings["retrieve"], 2),
        degraded=got.degraded,
    )
    return context


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
