"""What the operator gauges read: usage counters, storage, queue depth (typed, no HTTP)."""

from __future__ import annotations

from dataclasses import dataclass

from service.domain.points import POINT_KINDS, kind_filter, stale_chunks_filter
from service.domain.usage import UsageSnapshot
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
