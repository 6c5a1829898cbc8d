"""Prometheus metrics for what an operator asks first."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.08, 0.1, 0.25, 0.5, 1, 2.5, 5)


class Metrics:
    """One registry per app instance (tests build many apps in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
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
        self.queue_depth = Gauge(
            "cmem_queue_depth", "Jobs waiting in the broker queue", registry=self.registry
        )
