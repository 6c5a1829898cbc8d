"""RedisSnapshotStore: assembled contexts with a retention period (key TTL)."""

from __future__ import annotations

import time
from typing import Any

import orjson
import redis

from service.adapters.redis_client import Keys, redis_errors, text


class RedisSnapshotStore:
    """Implements SnapshotStore on Redis."""

    def __init__(self, client: redis.Redis) -> None:
        self._r = client

    def put(
        self, tenant: str, session_id: str, snapshot_id: str, body: dict[str, Any], ttl_s: int
    ) -> None:
        data = orjson.dumps(body, default=str)
        index = Keys.session_snapshots(tenant, session_id)
        now_ms = int(time.time() * 1000)
        with redis_errors():
            pipe = self._r.pipeline(transaction=False)
            pipe.set(Keys.snapshot(tenant, snapshot_id), data, ex=ttl_s)
            # The session's snapshot ids scored by their expiry, so deleting the session can
            # delete them too; ids whose snapshot has expired leave the index here (a busy
            # session's index stays as large as its retained snapshots, not its history).
            pipe.zadd(index, {snapshot_id: now_ms + ttl_s * 1000})
            pipe.zremrangebyscore(index, "-inf", now_ms)
            pipe.expire(index, ttl_s)
            pipe.execute()

    def delete_for_session(self, tenant: str, session_id: str) -> int:
        index = Keys.session_snapshots(tenant, session_id)
        legacy = Keys.session_snapshots_set(tenant, session_id)
        with redis_errors():
            pipe = self._r.pipeline(transaction=False)
            pipe.zrange(index, 0, -1)
            pipe.smembers(legacy)
            listed, older = pipe.execute()
            ids = sorted({text(i) for i in listed} | {text(i) for i in older})
            pipe = self._r.pipeline(transaction=True)
            if ids:
                pipe.delete(*[Keys.snapshot(tenant, i) for i in ids])
            pipe.delete(index, legacy)
            pipe.execute()
        return len(ids)

    def list_for_session(self, tenant: str, session_id: str, limit: int) -> list[str]:
        """The session's retained snapshot ids, newest first (scores are expiries: same order)."""
        now_ms = int(time.time() * 1000)
        index = Keys.session_snapshots(tenant, session_id)
        with redis_errors():
            found = self._r.zrevrangebyscore(index, "+inf", now_ms, start=0, num=limit)
        return [text(i) for i in found]

    def get(self, tenant: str, snapshot_id: str) -> dict[str, Any] | None:
        with redis_errors():
            data = self._r.get(Keys.snapshot(tenant, snapshot_id))
        return None if data is None else dict(orjson.loads(data))
