"""Vectors written by earlier releases, brought up to date; idempotent (workers queue them at
start, and once done each is one empty lookup)."""

from __future__ import annotations

import structlog

from service.domain.points import scope_of, unscoped_filter, with_scope
from service.usecases.services import Services

log = structlog.get_logger()

SCOPE_BATCH = 512  # points per pass


def backfill_scopes(svc: Services) -> int:
    """Give turns and facts indexed before the `scope` field theirs (reads find them by it
    alone; until then recall and facts miss them). Returns the points it updated."""
    where = unscoped_filter()
    updated = 0
    previous: set[str] = set()
    while True:
        # Updated points leave the filter: every pass reads from the start.
        hits, _ = svc.index.scroll(where, SCOPE_BATCH)
        if not hits:
            break
        batch = {h.id for h in hits}
        if previous & batch:
            # The last pass's update did not take: stop rather than loop on it.
            log.warning("vectors.scopes_backfill_stuck", updated=updated)
            break
        previous = batch
        groups: dict[str, list[str]] = {}
        for hit in hits:
            # A fact superseded meanwhile may get the active scope here: reads check every
            # fact hit against its record, so it is still never served.
            groups.setdefault(scope_of(hit.payload), []).append(hit.id)
        for scope, ids in groups.items():
            svc.index.set_payload(ids, with_scope(scope))
        updated += len(hits)
        log.info("vectors.scopes_backfilling", updated=updated)
    if updated:
        log.info("vectors.scopes_backfilled", points=updated)
    return updated


def backfill_session_index(svc: Services) -> int:
    """Put sessions of earlier releases into the session index's per-user view (and sessions
    that only ever had state into all of it); a no-op once done."""
    added = svc.sessions.backfill_index()
    if added:
        log.info("sessions.index_backfilled", entries=added)
    return added
