"""RedisUsageStats: service-wide usage counters, updated as writes happen.

Separate keys from the sessions' own (which share one hash tag per session): the counters are
updated in a second round trip after the write, so a crash in between can leave one session
counted in its old bucket. They are operator gauges, not the truth the service serves from.
"""

from __future__ import annotations

import redis

from service.adapters.redis_client import Keys, redis_errors, segment, text
from service.domain.usage import (
    ACTIVE_WINDOWS_S,
    MESSAGE_BUCKETS,
    TOKEN_BUCKETS,
    SizeDistribution,
    UsageSnapshot,
    VectorCounts,
    bucket,
)

SIZES = Keys.usage("sizes")  # hash: "m:<le>"/"t:<le>" -> sessions, "m:sum"/"t:sum"
ACTIVE = Keys.usage("active")  # sorted set: session -> last turn (ms)
INDEXING = Keys.usage("indexing")  # sorted set: session -> since when turns wait (ms)
WRITE_BEHIND = Keys.usage("write-behind")  # sorted set: document -> since when it waits (ms)
VECTORS = Keys.vector_counts()  # hash: "points:<kind>", "stale_chunks", "counted_at_ms"
LONGEST_WINDOW_MS = max(ACTIVE_WINDOWS_S.values()) * 1000


def _member(tenant: str, ident: str) -> str:
    return f"{segment(tenant)}:{segment(ident)}"


class RedisUsageStats:
    """Implements UsageStats on Redis (Valkey)."""

    def __init__(self, client: redis.Redis) -> None:
        self._r = client

    def session_grew(
        self,
        tenant: str,
        session_id: str,
        user_id: str,
        before: tuple[int, int],
        after: tuple[int, int],
        pending: bool,
        now_ms: int,
    ) -> None:
        member = _member(tenant, session_id)
        with redis_errors():
            pipe = self._r.pipeline(transaction=False)
            for prefix, old, new, bounds in (
                ("m", before[0], after[0], MESSAGE_BUCKETS),
                ("t", before[1], after[1], TOKEN_BUCKETS),
            ):
                if old > 0:
                    pipe.hincrby(SIZES, f"{prefix}:{bucket(old, bounds)}", -1)
                pipe.hincrby(SIZES, f"{prefix}:{bucket(new, bounds)}", 1)
                pipe.hincrby(SIZES, f"{prefix}:sum", new - old)
            pipe.zadd(ACTIVE, {member: now_ms})
            if before[0] == 0:
                pipe.pfadd(Keys.tenant_users(tenant), user_id)
            pipe.zremrangebyscore(ACTIVE, "-inf", now_ms - LONGEST_WINDOW_MS)
            if pending:
                pipe.zadd(INDEXING, {member: now_ms}, nx=True)
            pipe.execute()

    def session_removed(self, tenant: str, session_id: str, size: tuple[int, int]) -> None:
        member = _member(tenant, session_id)
        with redis_errors():
            pipe = self._r.pipeline(transaction=False)
            if size[0] > 0:
                pipe.hincrby(SIZES, f"m:{bucket(size[0], MESSAGE_BUCKETS)}", -1)
                pipe.hincrby(SIZES, "m:sum", -size[0])
                pipe.hincrby(SIZES, f"t:{bucket(size[1], TOKEN_BUCKETS)}", -1)
                pipe.hincrby(SIZES, "t:sum", -size[1])
            pipe.zrem(ACTIVE, member)
            pipe.zrem(INDEXING, member)
            pipe.execute()

    def indexing_left(self, tenant: str, session_id: str, pending: int) -> None:
        if pending:
            return  # still waiting since the first turn that waited
        with redis_errors():
            self._r.zrem(INDEXING, _member(tenant, session_id))

    def write_behind(self, tenant: str, doc_id: str, since: float | None) -> None:
        member = _member(tenant, doc_id)
        with redis_errors():
            if since is None:
                self._r.zrem(WRITE_BEHIND, member)
            else:
                self._r.zadd(WRITE_BEHIND, {member: int(since * 1000)}, nx=True)

    def users(self, tenant: str) -> int:
        with redis_errors():
            return int(self._r.pfcount(Keys.tenant_users(tenant)))

    def read(self, now_ms: int) -> UsageSnapshot:
        with redis_errors():
            pipe = self._r.pipeline(transaction=False)
            pipe.hgetall(SIZES)
            for seconds in ACTIVE_WINDOWS_S.values():
                pipe.zcount(ACTIVE, now_ms - seconds * 1000, "+inf")
            pipe.zrange(INDEXING, 0, 0, withscores=True)
            pipe.zcard(INDEXING)
            pipe.zrange(WRITE_BEHIND, 0, 0, withscores=True)
            pipe.zcard(WRITE_BEHIND)
            pipe.info("memory")
            replies = pipe.execute()
        sizes = {k.decode(): int(v) for k, v in replies[0].items()}
        n = len(ACTIVE_WINDOWS_S)
        active = dict(zip(ACTIVE_WINDOWS_S, (int(c) for c in replies[1 : 1 + n]), strict=True))
        indexing, indexing_count, behind, behind_count, memory = replies[1 + n :]
        return UsageSnapshot(
            messages=_distribution(sizes, "m"),
            tokens=_distribution(sizes, "t"),
            active_sessions=active,
            oldest_pending_indexing_s=_age_s(indexing, now_ms),
            write_behind_lag_s=_age_s(behind, now_ms),
            pending_indexing_sessions=int(indexing_count),
            write_behind_documents=int(behind_count),
            store_memory_bytes=int(memory.get("used_memory", 0)),
        )

    def record_vector_counts(self, counts: VectorCounts) -> VectorCounts | None:
        fields: dict[str, int] = {f"points:{k}": n for k, n in counts.points.items()}
        fields |= {"stale_chunks": counts.stale_chunks, "counted_at_ms": counts.counted_at_ms}
        with redis_errors():
            pipe = self._r.pipeline(transaction=True)
            pipe.hgetall(VECTORS)
            pipe.delete(VECTORS)
            pipe.hset(VECTORS, mapping=fields)  # type: ignore[arg-type]
            previous = pipe.execute()[0]
        return _vector_counts(previous)

    def vector_counts(self) -> VectorCounts | None:
        with redis_errors():
            raw: dict[bytes, bytes] = self._r.hgetall(VECTORS)  # type: ignore[assignment]
        return _vector_counts(raw)


def _vector_counts(raw: dict[bytes, bytes]) -> VectorCounts | None:
    fields = {text(k): int(v) for k, v in raw.items()}
    if "counted_at_ms" not in fields:
        return None
    return VectorCounts(
        points={k[len("points:") :]: n for k, n in fields.items() if k.startswith("points:")},
        stale_chunks=fields.get("stale_chunks", 0),
        counted_at_ms=fields["counted_at_ms"],
    )


def _distribution(sizes: dict[str, int], prefix: str) -> SizeDistribution:
    start = len(prefix) + 1
    buckets = {
        k[start:]: v for k, v in sizes.items() if k.startswith(prefix + ":") and k[start:] != "sum"
    }
    return SizeDistribution(buckets=buckets, total=sizes.get(f"{prefix}:sum", 0))


def _age_s(oldest: list[tuple[bytes, float]], now_ms: int) -> float:
    return max(0.0, (now_ms - oldest[0][1]) / 1000) if oldest else 0.0
