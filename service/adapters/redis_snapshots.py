"""RedisSnapshotStore: assembled contexts with a retention period (key TTL)."""

from __future__ import annotations

import json
from typing import Any

import redis

from service.adapters.redis_client import Keys, redis_errors


class RedisSnapshotStore:
    """Implements SnapshotStore on Redis."""

    def __init__(self, client: redis.Redis) -> None:
        self._r = client

    def put(self, tenant: str, snapshot_id: str, body: dict[str, Any], ttl_s: int) -> None:
        data = json.dumps(body, separators=(",", ":"), ensure_ascii=False, default=str)
        with redis_errors():
            self._r.set(Keys.snapshot(tenant, snapshot_id), data, ex=ttl_s)

    def get(self, tenant: str, snapshot_id: str) -> dict[str, Any] | None:
        with redis_errors():
            data = self._r.get(Keys.snapshot(tenant, snapshot_id))
        return None if data is None else dict(json.loads(data))
