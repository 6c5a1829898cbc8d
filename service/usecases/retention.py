"""Retention: superseded and deleted facts lose their text after fact_text_retention_s."""

from __future__ import annotations

import structlog

from service.domain.points import fact_point_id
from service.usecases.services import Services

log = structlog.get_logger()

BATCH = 500


def redact_retired_facts(svc: Services) -> int:
    """Drop the text of fact versions superseded or deleted longer ago than the retention (and
    their vectors, which were computed from it); dates, status and lineage stay."""
    keep_s = svc.settings.fact_text_retention_s
    if not keep_s:
        return 0
    before_ms = svc.now_ms() - keep_s * 1000
    redacted = 0
    while batch := svc.facts.retired(before_ms, BATCH):
        for tenant, fact_id in batch:
            if svc.facts.redact(tenant, fact_id):
                svc.index.delete_ids([fact_point_id(tenant, fact_id)])
                redacted += 1
        if len(batch) < BATCH:
            break
    if redacted:
        log.info("facts.redacted", facts=redacted, retention_s=keep_s)
    return redacted
