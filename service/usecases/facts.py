"""Fact use cases: remember (with key supersession and near-duplicate merging), find, delete."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from typing import Any

import structlog

from service.domain.errors import Conflict, InvalidInput, NotFound, PreconditionFailed, TooLarge
from service.domain.facts import is_near_duplicate
from service.domain.models import (
    Excluded,
    ExclusionReason,
    Fact,
    VectorHit,
    VectorPoint,
    VectorQuery,
)
from service.domain.models import excluded as excluded_item
from service.domain.points import fact_payload, fact_point_id, fact_ref, fact_status, facts_filter
from service.domain.sparse import SHORT_TEXT, encode_document
from service.domain.validation import check_id
from service.usecases.embedding import embed_cached
from service.usecases.services import Services

log = structlog.get_logger()

WRITE_ATTEMPTS = 8


def remember_fact(
    svc: Services,
    tenant: str,
    user_id: str,
    text: str,
    key: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> tuple[Fact, bool]:
    """Store a fact; returns (fact, created). A near-duplicate returns the existing fact."""
    check_id(user_id, "user_id")
    if key is not None:
        check_id(key, "key")
    text = text.strip()
    if not text:
        raise InvalidInput("text must not be empty", field="text")
    if len(text) > svc.settings.max_fact_chars:
        raise TooLarge(
            f"text has {len(text)} characters; the limit is {svc.settings.max_fact_chars}",
            field="text",
        )
    svc.index.check_writable()  # refused here, not half written (or a SIGBUS) later
    [vector], _ = embed_cached(svc, tenant, [text])
    same = [
        f
        for f, score in find_facts(svc, tenant, user_id, vector, 1)[0]
        if f.key == key and is_near_duplicate(text, f.text, score)
    ]
    if same:
        log.info("facts.merged", tenant=tenant, user_id=user_id, fact_id=same[0].id)
        return same[0], False
    now = svc.clock()
    fact = Fact(
        tenant=tenant,
        id=uuid.uuid4().hex,
        user_id=user_id,
        text=text,
        key=key,
        status="active",
        version=1,
        recorded_at=now,
        valid_from=now,
        metadata=metadata or {},
    )
    # Vector first, record second: the record is the commit point, and reads check every hit
    # against records, so a crash in between leaves an orphan point that is never served.
    point = fact_point(svc, fact, vector)
    svc.index.upsert([point])
    for _ in range(WRITE_ATTEMPTS):
        previous = svc.facts.active_for_key(tenant, user_id, key) if key else None
        superseded = None
        if previous is not None:
            superseded = dataclasses.replace(
                previous,
                status="superseded",
                valid_to=now,
                superseded_by=fact.id,
                version=previous.version + 1,
            )
        # Compare-and-set on the key's slot: a racing writer makes us read again.
        if svc.facts.put(fact, previous, superseded):
            break
    else:
        svc.index.delete_ids([fact_point_id(tenant, fact.id)])
        raise Conflict(f"too many concurrent writes to fact key {key!r}; retry", field="key")
    if superseded is not None:
        svc.index.set_payload(
            [fact_point_id(tenant, superseded.id)],
            fact_status(tenant, user_id, "superseded"),
        )
    log.info(
        "facts.remembered",
        tenant=tenant,
        user_id=user_id,
        fact_id=fact.id,
        key=key,
        superseded=superseded.id if superseded else None,
    )
    return fact, True


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
    svc: Services, tenant: str, hits: Sequence[VectorHit]
) -> tuple[list[tuple[Fact, float]], list[Excluded]]:
    """Keep the hits whose record is active: the record, not the vector, is the truth.

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
        elif fact.status != "active":
            excluded.append(excluded_item("fact", fact.id, _status_reason(fact.status)))
        else:
            found.append((fact, hit.score))
    return found, excluded


def search_facts(
    svc: Services, tenant: str, user_id: str, query: str, limit: int
) -> list[tuple[Fact, float]]:
    check_id(user_id, "user_id")
    if not query.strip():
        raise InvalidInput("query must not be empty", field="query")
    [vector] = svc.embedder.embed([query])
    return find_facts(svc, tenant, user_id, vector, limit)[0]


def get_fact(svc: Services, tenant: str, fact_id: str) -> Fact:
    check_id(fact_id, "fact_id")
    fact = svc.facts.get(tenant, fact_id)
    if fact is None or fact.status == "deleted":
        raise NotFound(f"fact {fact_id!r} not found")
    return fact


def list_facts(svc: Services, tenant: str, user_id: str, offset: int, limit: int) -> list[Fact]:
    check_id(user_id, "user_id")
    return svc.facts.list_for_user(tenant, user_id, offset, limit)


def delete_fact(svc: Services, tenant: str, fact_id: str, if_match: str | None = None) -> None:
    """Mark the record deleted (history stays), then drop its vector."""
    for _ in range(WRITE_ATTEMPTS):
        fact = get_fact(svc, tenant, fact_id)
        if if_match is not None and if_match.strip('"') != str(fact.version):
            raise PreconditionFailed(
                f"fact {fact_id!r} is at version {fact.version}, not {if_match}", field="If-Match"
            )
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
