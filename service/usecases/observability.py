"""What the operator gauges read: usage counters, storage, queue depth (typed, no HTTP)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from service.domain.errors import StoreUnavailable
from service.domain.points import (
    POINT_KINDS,
    kind_filter,
    stale_chunks_filter,
    tenant_active_facts_filter,
)
from service.domain.usage import UsageSnapshot
from service.ports import Heartbeat
from service.usecases.services import Services

QUEUES = ("cmem",)  # the one Celery queue every task goes through


@dataclass(frozen=True, slots=True)
class StorageState:
    """Vector points per kind, stale chunks the sweep has yet to remove, the shard's bytes."""

    points: dict[str, int]
    stale_chunks: int
    shard_bytes: int | None


def read_usage(svc: Services) -> UsageSnapshot:
    return svc.usage.read(svc.now_ms())


def read_storage(svc: Services) -> StorageState:
    """Exact counts: a scan per kind on an unoptimized shard, so callers cache this."""
    points = {kind: svc.index.count(kind_filter(kind)) for kind in POINT_KINDS}
    # Every stale chunk, whatever its age: "before" an hour from now.
    stale = svc.index.count(stale_chunks_filter(int(svc.clock().timestamp()) + 3600))
    return StorageState(points=points, stale_chunks=stale, shard_bytes=svc.index.disk_bytes())


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
    facts: int  # active facts, counted in the vector index (their read model)
    documents: int


@dataclass(frozen=True, slots=True)
class IndexCounts:
    """Counts that scan the vector index (an unoptimized shard): callers may cache them."""

    facts: int  # the tenant's active facts
    stale_chunks: int  # every tenant's


def index_counts(svc: Services, tenant: str) -> IndexCounts:
    return IndexCounts(
        facts=svc.index.count(tenant_active_facts_filter(tenant)),
        stale_chunks=svc.index.count(stale_chunks_filter(int(svc.clock().timestamp()) + 3600)),
    )


def service_status(
    svc: Services, heartbeat: Heartbeat, tenant: str, counts: IndexCounts | None = None
) -> ServiceStatus:
    """`counts`: from a cache (the console's overview); None counts now."""
    checks = readiness(svc, heartbeat)
    _, sessions = svc.sessions.recent(tenant, 0, 0)
    counts = counts or index_counts(svc, tenant)
    return ServiceStatus(
        ready=all(v == "ok" for v in checks.values()),
        checks=checks,
        queues=queue_depths(svc),
        usage=read_usage(svc),
        stale_chunks=counts.stale_chunks,
        sessions=sessions,
        users=svc.usage.users(tenant),
        facts=counts.facts,
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
