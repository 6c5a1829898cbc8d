"""Log compaction: fold the turns beyond the recent window into the session's rolling summary.

Serialized by compare-and-set on the summary's version: two racing jobs read the same version,
only one commits, the other changes nothing (the next trigger tries again). The causal barrier
and the window come from the domain (`foldable`). The log itself is kept: a turn is never
trimmed before it is both summarized and indexed, and this release trims none.
"""

from __future__ import annotations

import structlog

from service.domain.summaries import CompactionPolicy, Summary, foldable
from service.usecases.services import Services

log = structlog.get_logger()

COMPACT = "sessions.compact"


def policy(svc: Services) -> CompactionPolicy | None:
    s = svc.settings
    return CompactionPolicy.for_tier(
        s.summary_fidelity,
        s.summary_window_tokens,
        s.summary_threshold_tokens,
        s.summary_target_tokens,
    )


def compact_session(svc: Services, tenant: str, session_id: str, epoch: int) -> dict[str, object]:
    """One compaction step; idempotent (nothing to fold, or a lost race, changes nothing)."""
    rules = policy(svc)
    info = svc.sessions.info(tenant, session_id)
    if rules is None or info is None or info.epoch != epoch:
        return {"status": "skipped"}
    current = svc.summaries.get(tenant, session_id)
    start = current.last_seq + 1 if current else 0
    turns = svc.sessions.messages(tenant, session_id, start, -1)
    folded = foldable(turns, rules, svc.sessions.pending_ids(tenant, session_id))
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
    expected = current.version if current else 0
    if not svc.summaries.put(summary, expected, epoch):
        log.info("sessions.compaction_lost_race", tenant=tenant, session_id=session_id)
        return {"status": "lost_race"}
    log.info(
        "sessions.compacted",
        tenant=tenant,
        session_id=session_id,
        version=summary.version,
        folded=len(folded),
        last_seq=summary.last_seq,
        tokens=summary.tokens,
        summarizer=summary.summarizer,
    )
    return {"status": "compacted", "version": summary.version, "folded": len(folded)}
