"""Fact extraction: a job after indexing learns facts from what the user said in new turns."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import structlog

from service.domain.errors import NotFound, QuotaExceeded
from service.domain.extraction import ExtractedFact
from service.usecases.facts import Remembered, remember_fact, skipped_over_quota
from service.usecases.services import Services
from service.usecases.sessions import extracts_facts
from service.usecases.turns import turns_from_index

log = structlog.get_logger()


@dataclass(frozen=True, slots=True)
class Extraction:
    """What a job did: facts found, and where each went (current, history, merged)."""

    status: str  # done | skipped_deleted | skipped_disabled
    found: int = 0
    placed: dict[str, int] = field(default_factory=dict)
    over_quota: int = 0  # found but not stored: the tenant's facts quota was full


def extract_session_facts(
    svc: Services, tenant: str, session_id: str, epoch: int, message_ids: Sequence[str]
) -> Extraction:
    """Extract facts from these turns and remember them (source `extracted`, lineage the turn,
    event time the turn's `created_at`). Idempotent: a fact already derived from a turn is not
    stored again; a deleted session gets nothing."""
    info = svc.sessions.info(tenant, session_id)
    if info is None or info.epoch != epoch:
        return Extraction("skipped_deleted")
    if not extracts_facts(svc, info):
        return Extraction("skipped_disabled")
    turns = [m for m in svc.sessions.by_ids(tenant, session_id, message_ids) if m is not None]
    missing = set(message_ids) - {m.id for m in turns}
    # A turn trimmed since it was indexed lives on in its recall vector's payload.
    turns += turns_from_index(svc, tenant, session_id, epoch, missing) if missing else []
    found = svc.extractor.extract(turns)
    placed: Counter[str] = Counter()
    over_quota = 0
    now = svc.clock()
    for fact in found:
        try:
            done = _remember_extracted(svc, tenant, info.user_id, session_id, fact, now)
        except NotFound:  # the session was deleted meanwhile: its facts are retired anyway
            return Extraction("skipped_deleted", len(found), dict(placed))
        except QuotaExceeded as exc:
            # Not an error of the job: retrying would only hit the quota again.
            skipped_over_quota(tenant, fact.key, fact.lineage, exc)
            over_quota += 1
            continue
        placed[done.placed] += 1
    log.info(
        "facts.extracted",
        tenant=tenant,
        session_id=session_id,
        extractor=svc.extractor.name,
        turns=len(turns),
        found=len(found),
        over_quota=over_quota,
        **placed,
    )
    return Extraction("done", len(found), dict(placed), over_quota)


def _remember_extracted(
    svc: Services,
    tenant: str,
    user_id: str,
    session_id: str,
    fact: ExtractedFact,
    now: datetime,
) -> Remembered:
    return remember_fact(
        svc,
        tenant,
        user_id,
        fact.text,
        fact.key,
        source="extracted",
        lineage=fact.lineage,
        # A turn dated ahead of our clock (the client's created_at) counts from now.
        valid_from=min(fact.valid_from, now),
        # Based on what this session last saw of the key: another session's write since then
        # makes the two concurrent (the key's policy decides).
        session_id=session_id,
    )
