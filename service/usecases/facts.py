"""Fact use cases: remember (with key supersession and near-duplicate merging), find, delete."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import structlog

from service.domain.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PreconditionFailed,
    QuotaExceeded,
    TooLarge,
)
from service.domain.facts import (
    ConflictPolicy,
    conflict_policy,
    is_near_duplicate,
    supersedes,
    valid_at,
)
from service.domain.models import (
    Excluded,
    ExclusionReason,
    Fact,
    FactSource,
    VectorHit,
    VectorPoint,
    VectorQuery,
)
from service.domain.models import excluded as excluded_item
from service.domain.points import (
    fact_payload,
    fact_point_id,
    fact_ref,
    fact_status,
    facts_by_id_filter,
    facts_filter,
    tenant_facts_filter,
)
from service.domain.sparse import SHORT_TEXT, encode_document, encode_query
from service.domain.validation import check_id
from service.usecases.embedding import embed_cached
from service.usecases.quotas import check_facts, refuse
from service.usecases.seen_facts import base_of, note_seen, session_of
from service.usecases.services import Services

log = structlog.get_logger()

WRITE_ATTEMPTS = 8
CURRENT = ("active", "conflict")  # served as current (a conflict with a marker)


@dataclass(frozen=True, slots=True)
class Remembered:
    """What a write did: the fact as stored, whether it is new, and where it went (`current`:
    it holds its key now; `history`: an older statement that arrived late)."""

    fact: Fact
    created: bool
    placed: Literal["current", "history", "merged", "conflict"]


def remember_fact(
    svc: Services,
    tenant: str,
    user_id: str,
    text: str,
    key: str | None = None,
    metadata: dict[str, Any] | None = None,
    *,
    source: FactSource = "api",
    lineage: Sequence[str] = (),
    valid_from: datetime | None = None,
    based_on: str | None = None,
    external_id: str | None = None,
    session_id: str | None = None,
) -> Remembered:
    """Store a fact. A near-duplicate of an active fact (or a statement already derived from
    the same source turns) returns the existing fact. On a key, the statement with the latest
    event time (`valid_from`) is current; an older one that arrives late goes into history.

    `based_on`: the id of the key's fact the writer saw as current. If another write replaced
    it meanwhile, the two are concurrent and the key's policy decides: `lww` as above (event
    time, ties broken by record time and id), `keep_both` keeps both, flagged `conflict`.
    `session_id`: the session writing (its user's); without `based_on`, the write is based on
    the fact that session last saw on the key, and the stored fact is what it sees now."""
    check_id(user_id, "user_id")
    if session_id is not None and based_on is None:
        based_on = base_of(svc, tenant, session_id, user_id, key)
    elif session_id is not None:
        session_of(svc, tenant, session_id, user_id)
    done = _remember(
        svc,
        tenant,
        user_id,
        text,
        key,
        metadata,
        source,
        lineage,
        valid_from,
        based_on,
        external_id,
    )
    if session_id is not None and done.placed != "history":
        note_seen(svc, tenant, session_id, [done.fact])
    return done


def _remember(
    svc: Services,
    tenant: str,
    user_id: str,
    text: str,
    key: str | None,
    metadata: dict[str, Any] | None,
    source: FactSource,
    lineage: Sequence[str],
    valid_from: datetime | None,
    based_on: str | None,
    external_id: str | None,
) -> Remembered:
    if key is not None:
        check_id(key, "key")
    text = _checked_text(svc, text)
    now = svc.clock()
    event_time = _aware(valid_from) if valid_from is not None else now
    if event_time > now:
        raise InvalidInput("valid_from must not be in the future", field="valid_from")
    svc.index.check_writable()  # refused here, not half written (or a SIGBUS) later
    known = _derived_already(svc, tenant, key, lineage)
    if known is not None:
        return Remembered(known, False, "merged")
    [vector], _ = embed_cached(svc, tenant, [text])
    same = [
        f
        for f, score in find_facts(svc, tenant, user_id, vector, 1)[0]
        if f.key == key and is_near_duplicate(text, f.text, score)
    ]
    if same:
        log.info("facts.merged", tenant=tenant, user_id=user_id, fact_id=same[0].id)
        return Remembered(same[0], False, "merged")
    fact = Fact(
        tenant=tenant,
        id=uuid.uuid4().hex,
        user_id=user_id,
        text=text,
        key=key,
        status="active",
        version=1,
        recorded_at=now,
        valid_from=event_time,
        metadata=metadata or {},
        lineage=list(lineage),
        source=source,
        external_id=external_id,
    )
    limit = check_facts(svc, tenant, user_id, key)
    # Vector first, record second: the record is the commit point, and reads check every hit
    # against records, so a crash in between leaves an orphan point that is never served.
    svc.index.upsert([fact_point(svc, fact, vector)])
    try:
        return _store(svc, fact, based_on, limit)
    except QuotaExceeded as exc:  # the store's own check: a racing write took the last place
        svc.index.delete_ids([fact_point_id(tenant, fact.id)])
        raise refuse("facts", limit, int(exc.details["used"]), 1) from exc


def _store(svc: Services, fact: Fact, based_on: str | None, limit: int) -> Remembered:
    """Put `fact` as its key's current statement, into history, or in a conflict (the key's
    policy), retrying the slot's compare-and-set; the vector is in place already."""
    tenant, user_id, key, lineage = fact.tenant, fact.user_id, fact.key, fact.lineage
    policy = _policy(svc, tenant, key)
    for _ in range(WRITE_ATTEMPTS):
        previous = svc.facts.active_for_key(tenant, user_id, key) if key else None
        if previous is not None and lineage and _same_statement(previous, fact):
            # Two jobs derived it from the same turns at once (an indexing job run twice):
            # the slot's compare-and-set made them meet here; the first one stands.
            svc.index.delete_ids([fact_point_id(tenant, fact.id)])
            return Remembered(previous, False, "merged")
        concurrent = previous is not None and based_on is not None and previous.id != based_on
        if previous is not None and concurrent and policy == "keep_both":
            flagged = _keep_both(svc, fact, previous, limit)
            if flagged is not None:
                return Remembered(flagged, True, "conflict")
            continue
        if previous is not None and not supersedes(fact, previous):
            return _into_history(svc, fact, previous)
        superseded = None
        if previous is not None:
            superseded = dataclasses.replace(
                previous,
                status="superseded",
                valid_to=fact.valid_from,
                superseded_by=fact.id,
                version=previous.version + 1,
            )
        # Compare-and-set on the key's slot: a racing writer makes us read again.
        if svc.facts.put(fact, previous, superseded, limit=limit):
            break
    else:
        svc.index.delete_ids([fact_point_id(tenant, fact.id)])
        raise Conflict(f"too many concurrent writes to fact key {key!r}; retry", field="key")
    if superseded is not None:
        svc.index.set_payload(
            [fact_point_id(tenant, superseded.id)],
            fact_status(tenant, user_id, "superseded"),
        )
        # A write over a fact in conflict settles the whole conflict.
        _retire(svc, superseded.conflicts_with, fact)
    log.info(
        "facts.remembered",
        tenant=tenant,
        user_id=user_id,
        fact_id=fact.id,
        key=key,
        source=fact.source,
        superseded=superseded.id if superseded else None,
    )
    return Remembered(fact, True, "current")


def skipped_over_quota(
    tenant: str, key: str | None, lineage: Sequence[str], exc: QuotaExceeded
) -> None:
    """A fact a job learned, not stored: the tenant is at its facts quota (one grep-able
    event; the job goes on with the next fact)."""
    log.warning(
        "facts.skipped_over_quota",
        tenant=tenant,
        key=key,
        lineage=list(lineage),
        limit=exc.details.get("limit"),
        used=exc.details.get("used"),
    )


def _policy(svc: Services, tenant: str, key: str | None) -> ConflictPolicy:
    s = svc.settings
    if key is None:
        return "lww"
    return conflict_policy(s.fact_conflict_policies, s.fact_conflict_policy, tenant, key)


def _keep_both(svc: Services, fact: Fact, current: Fact, limit: int) -> Fact | None:
    """Store `fact` beside the key's current fact, both flagged `conflict` and naming each
    other (None: lost a race, read again)."""
    stored = dataclasses.replace(fact, status="conflict", conflicts_with=[current.id])
    flagged = dataclasses.replace(
        current,
        status="conflict",
        conflicts_with=[*current.conflicts_with, fact.id],
        version=current.version + 1,
    )
    if not svc.facts.put(stored, current, flagged, limit=limit):
        return None
    svc.index.set_payload(
        [fact_point_id(fact.tenant, i) for i in (fact.id, current.id)],
        fact_status(fact.tenant, fact.user_id, "conflict"),
    )
    log.info("facts.conflict", tenant=fact.tenant, key=fact.key, facts=[current.id, fact.id])
    return stored


def _retire(svc: Services, ids: Sequence[str], winner: Fact) -> list[str]:
    """Supersede by `winner` every fact still in conflict reachable from `ids` (a conflict set
    is linked through `conflicts_with`); returns their ids."""
    seen = {winner.id}
    todo = [i for i in ids if i not in seen]
    retired: list[str] = []
    while todo:
        fact_id = todo.pop()
        if fact_id in seen:
            continue
        seen.add(fact_id)
        for _ in range(WRITE_ATTEMPTS):
            fact = svc.facts.get(winner.tenant, fact_id)
            if fact is None or fact.status != "conflict":
                break
            todo += fact.conflicts_with
            done = dataclasses.replace(
                fact,
                status="superseded",
                superseded_by=winner.id,
                valid_to=winner.valid_from,
                version=fact.version + 1,
            )
            if svc.facts.replace(done, fact.version):
                retired.append(fact_id)
                break
    if retired:
        svc.index.set_payload(
            [fact_point_id(winner.tenant, i) for i in retired],
            fact_status(winner.tenant, winner.user_id, "superseded"),
        )
    return retired


def resolve_fact(svc: Services, tenant: str, fact_id: str, if_match: str | None = None) -> Fact:
    """Settle a conflict: this fact becomes the key's active one, the others of its conflict
    set go into history (superseded by it)."""
    for _ in range(WRITE_ATTEMPTS):
        fact = get_fact(svc, tenant, fact_id)
        _check_if_match(fact, if_match)
        if fact.status != "conflict":
            raise Conflict(f"fact {fact_id!r} is {fact.status}, not in a conflict")
        chosen = dataclasses.replace(
            fact, status="active", conflicts_with=[], version=fact.version + 1
        )
        if svc.facts.replace(chosen, fact.version, claim_slot=True):
            break
    else:
        raise Conflict(f"fact {fact_id!r} keeps changing; retry")
    svc.index.set_payload(
        [fact_point_id(tenant, fact_id)], fact_status(tenant, fact.user_id, "active")
    )
    retired = _retire(svc, fact.conflicts_with, chosen)
    log.info("facts.resolved", tenant=tenant, fact_id=fact_id, retired=retired)
    return chosen


def update_fact(
    svc: Services,
    tenant: str,
    fact_id: str,
    text: str,
    metadata: dict[str, Any] | None = None,
    if_match: str | None = None,
) -> Fact:
    """Change a fact's text (and metadata) in place: a new version, re-embedded. With
    `if_match`, only while it is still at that version (412)."""
    text = _checked_text(svc, text)
    svc.index.check_writable()  # refused here, not half written (or a SIGBUS) later
    [vector], _ = embed_cached(svc, tenant, [text])
    for _ in range(WRITE_ATTEMPTS):
        fact = get_fact(svc, tenant, fact_id)
        _check_if_match(fact, if_match)
        updated = dataclasses.replace(
            fact,
            text=text,
            metadata=fact.metadata if metadata is None else metadata,
            version=fact.version + 1,
        )
        # The vector first (the record is the truth a hit is checked against).
        svc.index.upsert([fact_point(svc, updated, vector)])
        if svc.facts.replace(updated, fact.version):
            log.info("facts.updated", tenant=tenant, fact_id=fact_id, version=updated.version)
            return updated
    raise Conflict(f"fact {fact_id!r} keeps changing; retry")


def _check_if_match(fact: Fact, if_match: str | None) -> None:
    if if_match is not None and if_match.strip().strip('"') != str(fact.version):
        raise PreconditionFailed(
            f"fact {fact.id!r} is at version {fact.version}, not {if_match}", field="If-Match"
        )


def _checked_text(svc: Services, text: str) -> str:
    text = text.strip()
    if not text:
        raise InvalidInput("text must not be empty", field="text")
    if len(text) > svc.settings.max_fact_chars:
        raise TooLarge(
            f"text has {len(text)} characters; the limit is {svc.settings.max_fact_chars}",
            field="text",
        )
    return text


def _into_history(svc: Services, fact: Fact, current: Fact) -> Remembered:
    """An older statement arriving late: history, closed where the current one begins (no
    compare-and-set: it claims no slot, so no racing writer can be overwritten by it)."""
    stored = dataclasses.replace(
        fact, status="superseded", valid_to=current.valid_from, superseded_by=current.id
    )
    svc.facts.put(stored, None, None, claim_slot=False)
    svc.index.set_payload(
        [fact_point_id(fact.tenant, fact.id)], fact_status(fact.tenant, fact.user_id, "superseded")
    )
    log.info(
        "facts.remembered", tenant=fact.tenant, fact_id=fact.id, key=fact.key, placed="history"
    )
    return Remembered(stored, True, "history")


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _same_statement(a: Fact, b: Fact) -> bool:
    return (a.key, a.text, a.lineage) == (b.key, b.text, b.lineage)


def _derived_already(
    svc: Services, tenant: str, key: str | None, lineage: Sequence[str]
) -> Fact | None:
    """A fact on `key` already derived from exactly these sources (a re-run extraction job)."""
    if not lineage:
        return None
    ids = set(svc.facts.derived_from(tenant, lineage[0]))
    for source in lineage[1:]:
        ids &= set(svc.facts.derived_from(tenant, source))
    for fact in svc.facts.get_many(tenant, sorted(ids)):
        if fact is None or fact.status in ("suspect", "deleted"):
            continue  # being re-derived: a new statement from what is left is welcome
        if fact.key == key and fact.lineage == list(lineage):
            return fact
    return None


def find_facts(
    svc: Services, tenant: str, user_id: str, vector: Sequence[float], limit: int
) -> tuple[list[tuple[Fact, float]], list[Excluded]]:
    """Active facts of a user nearest to `vector`, checked against their records.

    Returns (facts with scores, excluded hits with their reason).
    """
    if limit <= 0:
        return [], []
    return check_fact_hits(
        svc,
        tenant,
        svc.index.query_batch([VectorQuery(vector, facts_filter(tenant, user_id), limit)])[0],
    )


def check_fact_hits(
    svc: Services, tenant: str, hits: Sequence[VectorHit], accept: set[str] | None = None
) -> tuple[list[tuple[Fact, float]], list[Excluded]]:
    """Keep the hits whose record is active (or, for a view of the past, in `accept`): the
    record, not the vector, is the truth.

    Vectors embedded before an operator invalidation of their user are not served either.
    """
    refs = [fact_ref(h.payload) for h in hits]
    records = svc.facts.get_many(tenant, [r.fact_id for r in refs])
    cutoffs = {u: svc.cutoffs.get(tenant, "user", u) for u in {r.user_id for r in refs}}
    found: list[tuple[Fact, float]] = []
    excluded: list[Excluded] = []
    for hit, ref, fact in zip(hits, refs, records, strict=True):
        if ref.embedded_at < cutoffs[ref.user_id]:
            excluded.append(excluded_item("fact", ref.fact_id, "invalidated"))
        elif fact is None:
            excluded.append(excluded_item("fact", ref.fact_id, "stale"))
        elif (fact.id not in accept) if accept is not None else fact.status not in CURRENT:
            excluded.append(excluded_item("fact", fact.id, _status_reason(fact.status)))
        else:
            found.append((fact, hit.score))
    return found, excluded


@dataclass(frozen=True, slots=True)
class FoundFact:
    """A search result: the fact, its rank score, and its cosine similarity to the query (to
    threshold on; None when only the exact-term leg found it)."""

    fact: Fact
    score: float
    similarity: float | None


# Facts read at most for an `as_of`/`known_at` view (every statement the user has).
HISTORY_LIMIT = 10_000


def search_facts(
    svc: Services,
    tenant: str,
    user_id: str | None,
    query: str,
    limit: int,
    as_of: datetime | None = None,
    known_at: datetime | None = None,
) -> list[FoundFact]:
    """Facts ranked by meaning and exact terms (fused); the current ones, or those valid at
    `as_of` as recorded by `known_at`. `user_id` None: every user's current facts."""
    if user_id is not None:
        check_id(user_id, "user_id")
    elif as_of is not None or known_at is not None:
        raise InvalidInput("a view of the past (as_of, known_at) needs a user", field="user_id")
    if not query.strip():
        raise InvalidInput("query must not be empty", field="query")
    [vector] = svc.embedder.embed([query])
    accept = None
    where = facts_filter(tenant, user_id) if user_id else tenant_facts_filter(tenant)
    if user_id is not None and (as_of is not None or known_at is not None):
        accept = valid_fact_ids(svc, tenant, user_id, as_of, known_at)
        if not accept:
            return []
        where = facts_by_id_filter(tenant, user_id, sorted(accept))
    terms = encode_query(query)
    hybrid, dense = svc.index.query_batch(
        [
            VectorQuery(vector, where, limit, sparse=terms if terms.indices else None),
            VectorQuery(vector, where, max(limit * 4, 20)),
        ]
    )
    cosine = {h.id: h.score for h in dense}
    found, _ = check_fact_hits(svc, tenant, hybrid, accept)
    ids = {fact_ref(h.payload).fact_id: h.id for h in hybrid}
    return [FoundFact(f, score, cosine.get(ids[f.id])) for f, score in found]


def valid_fact_ids(
    svc: Services,
    tenant: str,
    user_id: str,
    as_of: datetime | None,
    known_at: datetime | None,
) -> set[str]:
    """Ids of the user's facts valid at `as_of` by what was recorded at `known_at`."""
    history = svc.facts.list_for_user(tenant, user_id, 0, HISTORY_LIMIT)
    return {f.id for f in valid_at(history, _opt(as_of), _opt(known_at))}


def _opt(when: datetime | None) -> datetime | None:
    return None if when is None else _aware(when)


def get_fact(svc: Services, tenant: str, fact_id: str) -> Fact:
    check_id(fact_id, "fact_id")
    fact = svc.facts.get(tenant, fact_id)
    if fact is None or fact.status == "deleted":
        raise NotFound(f"fact {fact_id!r} not found")
    return fact


def list_facts(
    svc: Services,
    tenant: str,
    user_id: str,
    offset: int,
    limit: int,
    as_of: datetime | None = None,
    known_at: datetime | None = None,
) -> list[Fact]:
    """Every fact of the user (history included) in record order; with `as_of`/`known_at`,
    only those valid then, in event-time order."""
    check_id(user_id, "user_id")
    if as_of is None and known_at is None:
        return svc.facts.list_for_user(tenant, user_id, offset, limit)
    history = svc.facts.list_for_user(tenant, user_id, 0, HISTORY_LIMIT)
    return valid_at(history, _opt(as_of), _opt(known_at))[offset : offset + limit]


def delete_fact(svc: Services, tenant: str, fact_id: str, if_match: str | None = None) -> None:
    """Mark the record deleted (history stays), then drop its vector."""
    for _ in range(WRITE_ATTEMPTS):
        fact = get_fact(svc, tenant, fact_id)
        _check_if_match(fact, if_match)
        deleted = dataclasses.replace(
            fact, status="deleted", version=fact.version + 1, valid_to=svc.clock()
        )
        if svc.facts.delete(deleted, expected_version=fact.version):
            break
    else:
        raise Conflict(f"fact {fact_id!r} keeps changing; retry")
    svc.index.delete_ids([fact_point_id(tenant, fact_id)])
    log.info("facts.deleted", tenant=tenant, fact_id=fact_id)


def fact_point(svc: Services, fact: Fact, vector: list[float]) -> VectorPoint:
    return VectorPoint(
        fact_point_id(fact.tenant, fact.id),
        vector,
        fact_payload(fact, svc.now_ms()),
        encode_document(fact.text, SHORT_TEXT),
    )


_STATUS_REASONS: dict[str, ExclusionReason] = {
    "superseded": "superseded",
    "suspect": "suspect",
    "conflict": "conflict",
    "deleted": "deleted",
}


def _status_reason(status: str) -> ExclusionReason:
    """A fact that is not active is excluded for what it is."""
    return _STATUS_REASONS.get(status, "stale")
