"""RedisAuditLog: every operator action, newest first, capped per tenant."""

from __future__ import annotations

from typing import Any

import orjson
import redis

from service.adapters.redis_client import Keys, redis_errors

AUDIT_ENTRIES = 10_000


class RedisAuditLog:
    """Implements AuditLog on a Redis list per tenant."""

    def __init__(self, client: redis.Redis) -> None:
        self._r = client

    def record(self, tenant: str, entry: dict[str, Any]) -> None:
        key = Keys.audit(tenant)
        with redis_errors():
            pipe = self._r.pipeline(transaction=True)
            pipe.lpush(key, orjson.dumps(entry))
            pipe.ltrim(key, 0, AUDIT_ENTRIES - 1)
            pipe.execute()

    def recent(self, tenant: str, limit: int) -> list[dict[str, Any]]:
        with redis_errors():
            raw = self._r.lrange(Keys.audit(tenant), 0, limit - 1)
        return [dict(orjson.loads(r)) for r in raw]
