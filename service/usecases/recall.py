"""Retrieval for a context: facts, document chunks and earlier turns, each checked against the
truth, each with a relevance on one scale.

Every source is searched the same way: a dense and a sparse (BM25) ranking, each `DEPTH` deep,
fused by reciprocal rank in `domain.ranking.fuse_hybrid` (normalized: first in both lists is
1.0). All of them go to the vector store in one batched call without payloads; the payloads of
the hits kept come back in one more call. Turns then get a second round (two-hop questions:
it follows the best turn's names and numbers, finds new turns and lifts deep ones) and their
neighbours (a question and its answer belong together).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from service.domain.context import ChunkHit
from service.domain.models import (
    Excluded,
    Fact,
    Message,
    SessionInfo,
    VectorFilter,
    VectorHit,
    VectorQuery,
)
from service.domain.models import excluded as excluded_item
from service.domain.points import (
    chunk_ref,
    fact_ref,
    message_from_payload,
    message_ref,
    piece_from_payload,
    searchable_text,
    session_recall_filter,
    user_recall_filter,
)
from service.domain.ranking import Ranked, fuse_hybrid, rank_alone
from service.domain.sparse import SparseVector, bridges, encode_query
from service.domain.summaries import SummaryPiece
from service.usecases.embedding import embed_cached
from service.usecases.facts import check_fact_hits
from service.usecases.services import Services
from service.usecases.turns import turns_from_index

DEPTH = 100  # each ranking's depth before fusion: a hit deep in one list can still win
HOP_SEEDS = 1  # the best turns that each seed a second-round search (a second seed paid a
# full scan of the session, ~1 ms at 10,000 turns, and lost no harness answer: benchmarks.md)
HOP_LIMIT = 10  # hits per second-round search (whatever the budget: they are few by nature)
# A second-round hit's relevance, against the first round's (0.8 before the second round asked
# for the seed's names and numbers: measured, 0.9 +1 to +2 points on the generated corpora at
# 256-1,024 tokens, LoCoMo equal; 1.0 loses at 256 on both)
HOP_WEIGHT = 0.9
NEIGHBOUR_WEIGHT = 0.35  # a neighbour's relevance, against its hit's (0.2 while RRF's k was 60)
# The answer to a hit that asks something (the next turn, by someone else): in conversations
# between people the question turn is what matches ("How long have you been married?") and
# the answer is what is asked about. Measured on bench/recall_quality.py, two LoCoMo
# conversations: +3 to +5 points at 512-1,024 tokens, both modes; the generated corpora
# within one question either way (0.9: +1 more at 256 on LoCoMo, -1 to -2 on the generated).
ANSWER_WEIGHT = 0.7
NEIGHBOUR_HITS = 10  # the best hits whose neighbours are offered (lower ones' rarely enter)


@dataclass(frozen=True, slots=True)
class Search:
    """One source to search: its filter and how many fused hits to keep."""

    name: Literal["facts", "chunks", "recall", "pieces"]
    where: VectorFilter
    keep: int
    accept: set[str] | None = None  # facts of a view of the past (`as_of`): these ids only


@dataclass(slots=True)
class Retrieved:
    """What the searches found, checked against the truth, and what they left out. Relevance
    in [0, 1] on one scale; `similarity`: each item's cosine similarity to the query, by id."""

    facts: list[tuple[Fact, float]] = field(default_factory=list)
    chunks: list[tuple[ChunkHit, float]] = field(default_factory=list)
    recalled: list[tuple[Message, float]] = field(default_factory=list)
    pieces: list[tuple[SummaryPiece, float]] = field(default_factory=list)  # topic summaries
    similarity: dict[str, float] = field(default_factory=dict)
    excluded: list[Excluded] = field(default_factory=list)


def recall_filter(
    tenant: str, user_id: str, scope: Literal["session", "user"], info: SessionInfo | None
) -> VectorFilter | None:
    """Turns of this session (its current epoch), or of all the user's sessions. The session's
    summary pieces are searched apart (`pieces_filter`): long and similar to much, they would
    take the places of turns in one ranking."""
    if scope == "user":
        # Each hit's epoch is checked against its own session afterwards.
        return user_recall_filter(tenant, user_id)
    return None if info is None else session_recall_filter(tenant, info.session_id, info.epoch)


def retrieve(
    svc: Services,
    tenant: str,
    user_id: str,
    info: SessionInfo | None,
    searches: Sequence[Search],
    query: str,
    vector: list[float],
) -> Retrieved:
    """Search every source in one store call, fetch the kept hits' payloads in another, check
    each against its store of truth."""
    terms = encode_query(query)  # exact terms (names, codes, numbers) next to meaning
    ranked = _hybrid(svc, searches, vector, terms)
    hits = _with_payloads(svc, ranked)
    found = Retrieved()
    for search in searches:
        cosine = {r.id: r.similarity for r in ranked[search.name]}
        found.similarity.update(
            {_item_id(search.name, h.payload): cosine[h.id] for h in hits[search.name]}
        )
        if search.name == "facts":
            found.facts, excluded = check_fact_hits(svc, tenant, hits[search.name], search.accept)
        elif search.name == "chunks":
            chunks, excluded = check_chunk_hits(svc, tenant, hits[search.name])
            found.chunks = chunks[: svc.settings.context_retrieved_limit]
        elif search.name == "pieces":
            found.pieces, excluded = _check_pieces(svc, tenant, hits[search.name])
        else:
            turns = hits[search.name]
            # A turn outside the dense ranking is at most as similar as its last one.
            floor = min(cosine.values(), default=0.0)
            if svc.settings.context_recall_hops > 1 and turns:
                hops = _second_round(svc, tenant, query, vector, search, turns)
                have = {h.id for h in turns}
                added = [h for h in hops.values() if h.id not in have]
                found.similarity.update({_item_id("recall", h.payload): floor for h in added})
                turns = [_better(h, hops.get(h.id)) for h in turns] + added
            found.recalled, excluded = _check_recall_hits(svc, tenant, user_id, info, turns)
            for message, _ in found.recalled:  # neighbours: held to the floor like any turn
                found.similarity.setdefault(message.id, floor)
        found.excluded += excluded
    return found


def _item_id(source: str, payload: dict[str, Any]) -> str:
    """The id the context gives the item a point stands for."""
    if source == "facts":
        return fact_ref(payload).fact_id
    if source == "chunks":
        ref = chunk_ref(payload)
        return f"{ref.doc_id}#{ref.chunk}"
    if source == "pieces":
        return piece_from_payload(payload)[0].id
    return message_ref(payload).message_id


def _check_pieces(
    svc: Services, tenant: str, hits: Sequence[VectorHit]
) -> tuple[list[tuple[SummaryPiece, float]], list[Excluded]]:
    """Topic pieces of the session's summary (the scope holds the current epoch's only), unless
    an operator invalidated the session after they were indexed."""
    if not hits:
        return [], []
    found: list[tuple[SummaryPiece, float]] = []
    excluded: list[Excluded] = []
    pieces = [(piece_from_payload(h.payload), h.score) for h in hits]
    cutoff = svc.cutoffs.get(tenant, "session", pieces[0][0][0].session_id)
    for (piece, indexed_at), score in pieces:
        if indexed_at < cutoff:
            excluded.append(excluded_item("summary", piece.id, "invalidated"))
        else:
            found.append((piece, score))
    return found, excluded


@dataclass(frozen=True, slots=True)
class _Ask:
    """One hybrid search: a dense ranking `depth` deep if there is a vector, a sparse one if there
    are terms, and how many fused hits to keep."""

    vector: Sequence[float]
    where: VectorFilter
    depth: int
    keep: int
    terms: SparseVector


def _hybrid(
    svc: Services, searches: Sequence[Search], vector: list[float], terms: SparseVector
) -> dict[str, list[Ranked]]:
    """Each source's dense and sparse rankings, all in one batch, fused per source."""
    asks = [_Ask(vector, s.where, max(DEPTH, s.keep), s.keep, terms) for s in searches]
    fused = _fused_batch(svc, asks, with_payload=False)
    return {s.name: ranked for s, (ranked, _) in zip(searches, fused, strict=True)}


def _fused_batch(
    svc: Services, asks: Sequence[_Ask], with_payload: bool
) -> list[tuple[list[Ranked], dict[str, dict[str, Any]]]]:
    """Every ask's rankings in one store call, fused here by rank (ties by id: the store's own
    fusion orders tied ranks differently from call to call); with each hit's payload by id when
    asked for."""
    queries: list[VectorQuery] = []
    for a in asks:
        if a.vector:
            queries.append(VectorQuery(a.vector, a.where, a.depth, with_payload=with_payload))
        if a.terms:
            queries.append(VectorQuery((), a.where, a.depth, a.terms, with_payload=with_payload))
    results = iter(svc.index.query_batch(queries))
    out: list[tuple[list[Ranked], dict[str, dict[str, Any]]]] = []
    for a in asks:
        dense = next(results) if a.vector else []
        sparse = next(results) if a.terms else []
        payloads = {h.id: h.payload for h in [*dense, *sparse]} if with_payload else {}
        if a.vector:
            ranked = fuse_hybrid(
                [(h.id, h.score) for h in dense], [(h.id, h.score) for h in sparse], a.keep
            )
        else:
            ranked = rank_alone([h.id for h in sparse], a.keep)
        out.append((ranked, payloads))
    return out


def _with_payloads(svc: Services, ranked: dict[str, list[Ranked]]) -> dict[str, list[VectorHit]]:
    """The kept hits with their payloads (one store call), scored by relevance, best first. A
    point deleted between the two calls is simply not there."""
    ids = list({r.id for hits in ranked.values() for r in hits})
    payloads = {h.id: h.payload for h in svc.index.retrieve(ids)} if ids else {}
    return {
        name: [VectorHit(r.id, r.relevance, payloads[r.id]) for r in hits if r.id in payloads]
        for name, hits in ranked.items()
    }


def _second_round(
    svc: Services,
    tenant: str,
    query: str,
    vector: list[float],
    search: Search,
    first: list[VectorHit],
) -> dict[str, VectorHit]:
    """A second round for questions that take two hops ("where is Lena's manager based?": one
    turn names the manager, another says where that person is). Each of the best hits seeds one
    search. A seed that names someone or something (`bridges`: "Theo Tanaka", "INV-4471") is
    followed by those words and the question's, a sparse search alone: its vector and its other
    words also hold its other news ("the kids were up at five again"), which other turns share.
    A seed without names is followed by meaning: its vector (from the embedding cache) added to
    the question's, and the question's words. Returns the round's best hits by id, first-round
    ones too: a turn both rounds find counts at the better of its two scores."""
    turns = [message_from_payload(tenant, h.payload) for h in first[:HOP_SEEDS]]
    asks = []
    for seed in (m for m in turns if m is not None and m.content.strip()):
        named = bridges(seed.content)
        terms = encode_query(f"{query} {named}")
        if encode_query(named):  # names to follow: by their words alone
            asks.append(_Ask([], search.where, HOP_LIMIT, HOP_LIMIT, terms))
            continue
        # By meaning: as the turn was embedded (with its speaker), its vector is in the cache.
        [seed_vector], _ = embed_cached(svc, tenant, [searchable_text(seed)])
        mixed = np.add(vector, seed_vector)
        mixed /= np.linalg.norm(mixed) or 1.0
        asks.append(_Ask(mixed.tolist(), search.where, HOP_LIMIT, HOP_LIMIT, terms))
    if not asks:
        return {}
    hops: dict[str, VectorHit] = {}
    for fused, payloads in _fused_batch(svc, asks, with_payload=True):  # one store call
        for r in fused:
            score = HOP_WEIGHT * r.relevance
            if r.id not in hops or hops[r.id].score < score:
                hops[r.id] = VectorHit(r.id, score, payloads[r.id])
    best = sorted(hops.values(), key=lambda h: (-h.score, h.id))[: HOP_SEEDS * HOP_LIMIT]
    return {h.id: h for h in best}


def _better(hit: VectorHit, hop: VectorHit | None) -> VectorHit:
    """A first-round hit at the better of its score and the second round's: a turn the second
    round puts near the top (the second hop) is often deep in the first."""
    return (
        hit if hop is None or hop.score <= hit.score else VectorHit(hit.id, hop.score, hit.payload)
    )


def check_chunk_hits(
    svc: Services, tenant: str, hits: Sequence[VectorHit]
) -> tuple[list[tuple[ChunkHit, float]], list[Excluded]]:
    """Rule 1: a chunk is served only if its version is its document's live one, unexpired.

    One round trip to the live-version map, so a half-finished cleanup can never leak.
    """
    refs = [chunk_ref(h.payload) for h in hits]
    live = svc.documents.live(tenant, [r.doc_id for r in refs])
    now = svc.clock().timestamp()
    found: list[tuple[ChunkHit, float]] = []
    excluded: list[Excluded] = []
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
            excluded.append(excluded_item("chunk", item_id, "stale", chunk.version))
        elif current.expired(now):
            excluded.append(excluded_item("chunk", item_id, "expired", chunk.version))
        elif item_id not in seen:
            seen.add(item_id)
            found.append((chunk, hit.score))
    return found, excluded


def _check_recall_hits(
    svc: Services,
    tenant: str,
    user_id: str,
    info: SessionInfo | None,
    hits: Sequence[VectorHit],
) -> tuple[list[tuple[Message, float]], list[Excluded]]:
    """Keep the hits whose turn is still its session's (same epoch, in the log or trimmed from
    it after summary and indexing), unless invalidated after; add the turns around each hit."""
    by_session: dict[str, list[VectorHit]] = {}
    for hit in hits:  # the session id alone (message_ref's whole record costs ~2 us a hit)
        by_session.setdefault(str(hit.payload.get("session_id")), []).append(hit)
    found: list[tuple[Message, float]] = []
    excluded: list[Excluded] = []
    epochs: dict[str, int] = {}
    for session_id, session_hits in by_session.items():
        known = info if info is not None and info.session_id == session_id else None
        current = known or svc.sessions.info(tenant, session_id)
        kept, dropped = _check_session_hits(svc, tenant, user_id, current, session_hits)
        found += kept
        excluded += dropped
        if current is not None:
            epochs[session_id] = current.epoch
    found.sort(key=lambda f: -f[1])
    radius = svc.settings.context_recall_neighbours
    if not radius:
        return found, excluded
    return _with_neighbours(svc, tenant, found, radius, epochs), excluded


def _check_session_hits(
    svc: Services,
    tenant: str,
    user_id: str,
    info: SessionInfo | None,
    hits: Sequence[VectorHit],
) -> tuple[list[tuple[Message, float]], list[Excluded]]:
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
    excluded: list[Excluded] = []
    for hit, p, message in zip(hits, refs, messages, strict=True):
        current = info is not None and info.user_id == user_id and p.epoch == info.epoch
        if message is None and current and p.seq < trimmed:
            message = message_from_payload(tenant, hit.payload)  # trimmed: summarized, indexed
        if p.indexed_at < cutoff:
            excluded.append(excluded_item("message", p.message_id, "invalidated"))
        elif message is None or not current:
            excluded.append(excluded_item("message", p.message_id, "stale"))
        else:
            found.append((message, hit.score))
    return found, excluded


def _with_neighbours(
    svc: Services,
    tenant: str,
    found: list[tuple[Message, float]],
    radius: int,
    epochs: dict[str, int],
) -> list[tuple[Message, float]]:
    """The hits (best first) and the turns around the NEIGHBOUR_HITS best of them (a question
    and its answer belong together), at a share of the hit's relevance (ANSWER_WEIGHT for the
    answer to a question, NEIGHBOUR_WEIGHT else); each turn once, at the best of its own score
    and its shares (a low hit next to a better one is lifted). `epochs`: each session's
    current epoch, for turns trimmed from the log (they come from their recall vectors)."""
    seqs: dict[str, list[int]] = {}
    for m, _ in found[:NEIGHBOUR_HITS]:
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
    by_place = {(m.session_id, m.seq): m for m in [*near.values(), *(m for m, _ in found)]}
    best = {m.id: (m, score) for m, score in found}
    for message, score in found[:NEIGHBOUR_HITS]:
        for seq in range(message.seq - radius, message.seq + radius + 1):
            turn = by_place.get((message.session_id, seq))
            if turn is None or turn.id == message.id or not turn.content.strip():
                continue
            share = score * (ANSWER_WEIGHT if _answers(message, turn) else NEIGHBOUR_WEIGHT)
            if turn.id not in best or best[turn.id][1] < share:
                best[turn.id] = (turn, share)
    return sorted(best.values(), key=lambda f: -f[1])


def _answers(hit: Message, turn: Message) -> bool:
    """`turn` is the one right after a hit that asks something, said by someone else: most
    likely its answer, which holds what the question was about ("How long have you been
    married?" - "5 years already!")."""
    return (
        turn.seq == hit.seq + 1
        and "?" in hit.content
        and (turn.name, turn.role) != (hit.name, hit.role)
    )
