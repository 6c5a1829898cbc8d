"""RedisSnapshotStore: assembled contexts with a retention period (key TTL)."""

from __future__ import annotations

from typing import Any

import orjson
import redis

from service.adapters.redis_client import Keys, redis_errors


class RedisSnapshotStore:
    """Implements SnapshotStore on Redis."""

    def __init__(self, client: redis.Redis) -> None:
        self._r = client

    def put(self, tenant: str, snapshot_id: str, body: dict[str, Any], ttl_s: int) -> None:
        data = orjson.dumps(body, default=str)
        with redis_errors():
            self._r.set(Keys.snapshot(tenant, snapshot_id), data, ex=ttl_s)

    def get(self, tenant: str, snapshot_id: str) -> dict[str, Any] | None:
        with redis_errors():
            data = self._r.get(Keys.snapshot(tenant, snapshot_id))
        return None if data is None else dict(orjson.loads(data))
