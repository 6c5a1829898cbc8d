"""Prometheus metrics for what an operator asks first.

No label carries a session, user or document id: the state gauges are read from service-wide
counters (`UsageStats`), so a scrape costs the same with ten sessions or ten million.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import structlog
from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Histogram,
)
from prometheus_client.core import GaugeHistogramMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from service.domain.errors import MemoryServiceError
from service.domain.usage import (
    MESSAGE_BUCKETS,
    TOKEN_BUCKETS,
    SizeDistribution,
    UsageSnapshot,
    cumulative,
)
from service.usecases import observability
from service.usecases.services import Services

log = structlog.get_logger()


LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.08, 0.1, 0.25, 0.5, 1, 2.5, 5)
SHARD_BYTES_TTL_S = 30.0
JOB_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800)


class Metrics:
    """One registry per process (tests build many in one process); API and worker share it in
    the embedded service."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        # The default registry's process/runtime collectors, registered on ours too: CPU, memory,
        # open fds, start time; Python version; GC collections.
        for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            self.registry.register(collector)
        self.request_seconds = Histogram(
            "cmem_http_request_seconds",
            "HTTP latency per route",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.context_tokens = Histogram(
            "cmem_context_tokens",
            "Tokens per context component",
            ["component"],
            buckets=(0, 16, 64, 256, 512, 1024, 2048, 4096, 8192, 16384, 65536),
            registry=self.registry,
        )
        self.context_seconds = Histogram(
            "cmem_context_load_seconds",
            "Context assembly time per step (Server-Timing's split): embed, retrieve, pack, total",
            ["component"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.excluded_items = Counter(
            "cmem_context_excluded_total",
            "Items left out of contexts, by reason",
            ["reason"],
            registry=self.registry,
        )
        self.degraded = Counter(
            "cmem_context_degraded_total",
            "Contexts assembled without a dependency",
            ["store"],
            registry=self.registry,
        )
        self.jobs = Counter(
            "cmem_jobs_total",
            "Background jobs finished, by task and outcome (success, failure, retry)",
            ["task", "outcome"],
            registry=self.registry,
        )
        self.facts_over_quota = Counter(
            "cmem_facts_quota_skipped_total",
            "Facts a background job learned but did not store: the tenant's facts quota was full",
            registry=self.registry,
        )
        self.job_seconds = Histogram(
            "cmem_job_seconds",
            "Background job run time, by task",
            ["task"],
            buckets=JOB_BUCKETS,
            registry=self.registry,
        )

    def watch_state(self, svc: Services) -> None:
        """Export the service's state (sessions, storage, staleness, queues) on scrapes."""
        self.registry.register(StateCollector(svc))


class StateCollector(Collector):
    """Gauges read at scrape time from counters: the service-wide usage counters, and the vector
    counts the worker's recount keeps (no scrape scans the vector index)."""

    def __init__(self, svc: Services) -> None:
        self._svc = svc
        self._shard: tuple[float, int | None] | None = None  # (when, bytes)

    def _shard_bytes(self) -> int | None:
        """The embedded shard's size: a walk of its files (~5 ms), so at most every 30 s."""
        now = time.monotonic()
        if self._shard is None or now - self._shard[0] > SHARD_BYTES_TTL_S:
            self._shard = (now, self._svc.index.disk_bytes())
        return self._shard[1]

    def describe(self) -> list[GaugeMetricFamily]:
        return []  # unchecked collector: families are built per scrape

    def collect(self) -> Iterator[GaugeMetricFamily | GaugeHistogramMetricFamily]:
        up = GaugeMetricFamily(
            "cmem_state_up", "Whether the state gauges could be read, by source", labels=["source"]
        )
        try:
            yield from _usage(observability.read_usage(self._svc))
            up.add_metric(["usage"], 1)
        except MemoryServiceError as exc:
            log.warning("metrics.usage_unavailable", error=str(exc))
            up.add_metric(["usage"], 0)
        try:
            yield _queues(observability.queue_depths(self._svc))
            up.add_metric(["queues"], 1)
        except MemoryServiceError as exc:
            log.warning("metrics.queues_unavailable", error=str(exc))
            up.add_metric(["queues"], 0)
        try:
            yield from _storage(observability.read_storage(self._svc), self._svc.now_ms())
            if (shard := self._shard_bytes()) is not None:
                yield GaugeMetricFamily(
                    "cmem_vector_shard_bytes",
                    "Bytes of the embedded vector shard on disk",
                    value=shard,
                )
            up.add_metric(["storage"], 1)
        except MemoryServiceError as exc:
            log.warning("metrics.storage_unavailable", error=str(exc))
            up.add_metric(["storage"], 0)
        yield up


def _usage(
    u: UsageSnapshot,
) -> Iterator[GaugeMetricFamily | GaugeHistogramMetricFamily]:
    yield _sizes(
        "cmem_session_messages", "Sessions by number of messages", u.messages, MESSAGE_BUCKETS
    )
    yield _sizes("cmem_session_tokens", "Sessions by stored tokens", u.tokens, TOKEN_BUCKETS)
    active = GaugeMetricFamily(
        "cmem_active_sessions", "Sessions with a new turn within the window", labels=["window"]
    )
    for window, n in u.active_sessions.items():
        active.add_metric([window], n)
    yield active
    for name, text, value in (
        (
            "cmem_indexing_oldest_pending_seconds",
            "Age of the longest wait for turn indexing",
            u.oldest_pending_indexing_s,
        ),
        (
            "cmem_indexing_pending_sessions",
            "Sessions with turns waiting for indexing",
            u.pending_indexing_sessions,
        ),
        (
            "cmem_write_behind_lag_seconds",
            "Age of the oldest write-behind document not yet live",
            u.write_behind_lag_s,
        ),
        (
            "cmem_write_behind_documents",
            "Write-behind documents whose new version is not yet live",
            u.write_behind_documents,
        ),
        (
            "cmem_store_memory_bytes",
            "Memory used by Valkey/Redis (INFO used_memory)",
            u.store_memory_bytes,
        ),
    ):
        yield GaugeMetricFamily(name, text, value=value)


def _sizes(
    name: str, text: str, d: SizeDistribution, bounds: tuple[int, ...]
) -> GaugeHistogramMetricFamily:
    return GaugeHistogramMetricFamily(
        name,
        text,
        buckets=[(le, float(n)) for le, n in cumulative(d.buckets, bounds)],
        gsum_value=d.total,
    )


def _queues(depths: dict[str, int]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(
        "cmem_queue_depth", "Jobs waiting in the broker, by queue", labels=["queue"]
    )
    for queue, n in depths.items():
        family.add_metric([queue], n)
    return family


def _storage(s: observability.StorageState, now_ms: int) -> Iterator[GaugeMetricFamily]:
    if s.counted_at_ms is not None:  # nothing before the worker's first recount
        points = GaugeMetricFamily(
            "cmem_vector_points", "Vector points by kind (last recount)", labels=["kind"]
        )
        for kind, n in s.points.items():
            points.add_metric([kind], n)
        yield points
        yield GaugeMetricFamily(
            "cmem_stale_chunks",
            "Stale document chunks awaiting the sweep (last recount)",
            value=s.stale_chunks,
        )
        yield GaugeMetricFamily(
            "cmem_vector_counts_age_seconds",
            "Age of the vector points and stale chunks counts (the worker recounts them)",
            value=max(0, now_ms - s.counted_at_ms) / 1000,
        )
