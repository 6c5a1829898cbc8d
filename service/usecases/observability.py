"""What the operator gauges read: usage counters, storage, queue depth (typed, no HTTP)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import structlog

from service.domain.errors import StoreUnavailable
from service.domain.points import (
    POINT_KINDS,
    kind_filter,
    stale_chunks_filter,
)
from service.domain.usage import UsageSnapshot, VectorCounts
from service.ports import Heartbeat
from service.usecases.quotas import current_facts
from service.usecases.services import Services

log = structlog.get_logger()

QUEUES = ("cmem",)  # the one Celery queue every task goes through


@dataclass(frozen=True, slots=True)
class StorageState:
    """Vector points per kind and stale chunks as last recounted (`counted_at_ms`; None: not
    yet)."""

    points: dict[str, int]
    stale_chunks: int
    counted_at_ms: int | None


def read_usage(svc: Services) -> UsageSnapshot:
    return svc.usage.read(svc.now_ms())


def read_storage(svc: Services) -> StorageState:
    """The last recount's counts: one read, no scan of the vector index."""
    counts = svc.usage.vector_counts()
    return StorageState(
        points=counts.points if counts else {},
        stale_chunks=counts.stale_chunks if counts else 0,
        counted_at_ms=counts.counted_at_ms if counts else None,
    )


def recount_vectors(svc: Services, force: bool = False) -> VectorCounts | None:
    """Count the vector index's points per kind and its stale chunks (exact: a scan per kind on
    an unoptimized shard, so the worker does it, every `vector_recount_interval_s`) and keep
    the result for the gauges and the console; logs what moved since the last recount. None:
    the last recount is recent enough (unless `force`)."""
    last = svc.usage.vector_counts()
    due_ms = svc.settings.vector_recount_interval_s * 1000
    if not force and last is not None and svc.now_ms() - last.counted_at_ms < due_ms:
        return None
    counts = VectorCounts(
        points={kind: svc.index.count(kind_filter(kind)) for kind in POINT_KINDS},
        # Every stale chunk, whatever its age: "before" an hour from now.
        stale_chunks=svc.index.count(stale_chunks_filter(int(svc.clock().timestamp()) + 3600)),
        counted_at_ms=svc.now_ms(),
    )
    previous = svc.usage.record_vector_counts(counts)
    log.info(
        "vectors.recounted",
        points=counts.points,
        stale_chunks=counts.stale_chunks,
        changes=counts.changes(previous),
        since_ms=counts.counted_at_ms - previous.counted_at_ms if previous else None,
    )
    return counts


def recount_facts(svc: Services) -> dict[str, tuple[dict[str, int], dict[str, int]]]:
    """Set each tenant's fact counters from its records where they differ (records written
    before counting began, or a counter lost); every difference is logged as drift."""
    drift = svc.facts.recount()
    for tenant, (before, after) in drift.items():
        log.warning("facts.counts_drift", tenant=tenant, counted=before, recounted=after)
    log.info("facts.recounted", tenants_corrected=len(drift))
    return drift


def queue_depths(svc: Services) -> dict[str, int]:
    return {QUEUES[0]: svc.jobs.depth()}


def readiness(svc: Services, heartbeat: Heartbeat) -> dict[str, str]:
    """Each dependency: "ok", or what is wrong with it."""
    checks: dict[str, str] = {}
    for name, probe in (("redis", svc.sessions.ping), ("vector_store", svc.index.ping)):
        try:
            probe()
            checks[name] = "ok"
        except StoreUnavailable as exc:
            checks[name] = exc.message
    try:
        checks["worker"] = "ok" if heartbeat.alive() else "no worker heartbeat"
    except StoreUnavailable as exc:
        checks["worker"] = exc.message
    return checks


@dataclass(frozen=True, slots=True)
class ServiceStatus:
    """What `cmem status` and the console's overview show first."""

    ready: bool
    checks: dict[str, str]
    queues: dict[str, int]
    usage: UsageSnapshot
    stale_chunks: int
    sessions: int  # the caller's tenant
    users: int  # approximate: distinct users with a session
    facts: int  # current facts (active or in conflict), from the counters the writes keep
    documents: int


def service_status(svc: Services, heartbeat: Heartbeat, tenant: str) -> ServiceStatus:
    """Counters only (no scan): the page that shows it loads in constant time."""
    checks = readiness(svc, heartbeat)
    _, sessions = svc.sessions.recent(tenant, 0, 0)
    vectors = svc.usage.vector_counts()
    return ServiceStatus(
        ready=all(v == "ok" for v in checks.values()),
        checks=checks,
        queues=queue_depths(svc),
        usage=read_usage(svc),
        stale_chunks=vectors.stale_chunks if vectors else 0,
        sessions=sessions,
        users=svc.usage.users(tenant),
        facts=current_facts(svc, tenant),
        documents=svc.documents.count(tenant),
    )


@dataclass(frozen=True, slots=True)
class SessionRow:
    """One session in an operator's list."""

    session_id: str
    user_id: str
    messages: int
    tokens: int
    pending: int
    trimmed: int
    last_active: datetime


@dataclass(frozen=True, slots=True)
class SessionPage:
    total: int
    offset: int
    sessions: list[SessionRow]


def list_sessions(svc: Services, tenant: str, offset: int, limit: int) -> SessionPage:
    """The tenant's sessions, latest write first (from the session index)."""
    page, total = svc.sessions.recent(tenant, offset, limit)
    rows = []
    for session_id, last_ms in page:
        info = svc.sessions.info(tenant, session_id)
        if info is None:
            continue  # deleted between the two reads
        rows.append(
            SessionRow(
                session_id=session_id,
                user_id=info.user_id,
                messages=info.message_count,
                tokens=info.tokens,
                pending=info.pending,
                trimmed=info.trimmed,
                last_active=datetime.fromtimestamp(last_ms / 1000, UTC),
            )
        )
    return SessionPage(total=total, offset=offset, sessions=rows)
