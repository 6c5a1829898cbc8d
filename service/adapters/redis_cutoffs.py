"""RedisCutoffs: operator invalidation cutoffs per user and per session.

An item of that user (facts) or session (recalled turns) embedded before the cutoff is not
served: one O(1) write puts an invalidation in effect, whatever the number of items.
"""

from __future__ import annotations

import redis

from service.adapters.redis_client import Keys, redis_errors


class RedisCutoffs:
    """Implements Cutoffs: one hash per tenant, field "<kind>:<id>" -> unix milliseconds."""

    def __init__(self, client: redis.Redis) -> None:
        self._r = client

    def set(self, tenant: str, kind: str, ident: str, at_ms: int) -> None:
        with redis_errors():
            self._r.hset(Keys.cutoffs(tenant), f"{kind}:{ident}", at_ms)

    def forget(self, tenant: str, kind: str, ident: str) -> None:
        with redis_errors():
            self._r.hdel(Keys.cutoffs(tenant), f"{kind}:{ident}")

    def get(self, tenant: str, kind: str, ident: str) -> int:
        with redis_errors():
            value = self._r.hget(Keys.cutoffs(tenant), f"{kind}:{ident}")
        return int(value) if value is not None else 0
