"""Service-wide usage: the size distribution of sessions and how far background work lags.

Sizes are kept as bucket counts (a gauge histogram): a session that grows moves from one bucket
to another, so the distribution is read in O(buckets), never by visiting every session.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

# Upper bounds ("le") of the buckets; the last bucket is +Inf.
MESSAGE_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000)
TOKEN_BUCKETS = (
    100,
    500,
    1000,
    2000,
    5000,
    10_000,
    20_000,
    50_000,
    100_000,
    200_000,
    500_000,
    1_000_000,
)
INF = "+Inf"
# Windows for "active sessions": a session is active in a window if it got a turn within it.
ACTIVE_WINDOWS_S = {"5m": 300, "1h": 3600, "24h": 86_400}


def bucket(value: int, bounds: tuple[int, ...]) -> str:
    """The label of the one bucket `value` falls in (its upper bound, or +Inf)."""
    i = bisect.bisect_left(bounds, value)
    return str(bounds[i]) if i < len(bounds) else INF


def cumulative(counts: dict[str, int], bounds: tuple[int, ...]) -> list[tuple[str, int]]:
    """Per-bucket counts -> Prometheus' cumulative (le, count) pairs, +Inf last."""
    out: list[tuple[str, int]] = []
    running = 0
    for label in [*(str(b) for b in bounds), INF]:
        running += max(0, counts.get(label, 0))
        out.append((label, running))
    return out


@dataclass(frozen=True, slots=True)
class SizeDistribution:
    """Sessions by size: per-bucket counts (not cumulative) and the sum of sizes."""

    buckets: dict[str, int] = field(default_factory=dict)
    total: int = 0


@dataclass(frozen=True, slots=True)
class UsageSnapshot:
    """What the usage counters say now."""

    messages: SizeDistribution
    tokens: SizeDistribution
    active_sessions: dict[str, int]  # window label -> sessions with a turn in it
    oldest_pending_indexing_s: float  # 0 when nothing waits
    write_behind_lag_s: float  # age of the oldest write-behind document not yet live
    pending_indexing_sessions: int
    write_behind_documents: int
    store_memory_bytes: int


@dataclass(frozen=True, slots=True)
class VectorCounts:
    """What one recount of the vector index found (every tenant): points per kind, stale
    chunks awaiting the sweep, and when (unix ms). Operators read these; nothing scans on a
    page load or a scrape."""

    points: dict[str, int]
    stale_chunks: int
    counted_at_ms: int

    def changes(self, since: VectorCounts | None) -> dict[str, int]:
        """What moved since the previous recount, by kind (and "stale_chunks"); 0s left out."""
        before = since.points if since is not None else {}
        moved = {k: n - before.get(k, 0) for k, n in self.points.items()}
        moved["stale_chunks"] = self.stale_chunks - (since.stale_chunks if since else 0)
        return {k: n for k, n in moved.items() if n}
