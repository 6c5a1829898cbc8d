"""RedisHeartbeat: workers announce themselves; readiness checks that one is alive."""

from __future__ import annotations

import redis

from service.adapters.redis_client import Keys, redis_errors


class RedisHeartbeat:
    """A key with a short TTL, refreshed by every live worker."""

    def __init__(self, client: redis.Redis, ttl_s: int = 15) -> None:
        self._r = client
        self.ttl_s = ttl_s

    def beat(self, worker: str) -> None:
        with redis_errors():
            self._r.set(Keys.worker_heartbeat(), worker, ex=self.ttl_s)

    def alive(self) -> bool:
        with redis_errors():
            return bool(self._r.exists(Keys.worker_heartbeat()))
