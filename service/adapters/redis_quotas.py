"""RedisQuotas: per-tenant usage counters that storage quotas are checked against.

One hash per tenant (`Keys.quota`), quota name -> usage. A write reserves its units before it
writes (atomically, in one script: check and count) and gives back what it did not use; removals
give back what they removed. A crash between a write and its counter leaves the counter high
(never low): a quota may refuse early, never let a tenant past it.
"""

from __future__ import annotations

import redis

from service.adapters.redis_client import Keys, redis_errors

# KEYS: the tenant's quota hash. ARGV: quota, n, limit (0: none). Returns -1 when counted, else
# the usage that n more would have taken past the limit.
_RESERVE = """
local used = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local n = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
if limit > 0 and used + n > limit then return used end
redis.call('HINCRBY', KEYS[1], ARGV[1], n)
return -1
"""

# KEYS: the tenant's quota hash. ARGV: quota, n. Never below 0 (usage from before counting began
# is not in the counter; removing it must not make the counter negative).
_RELEASE = """
local used = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local left = math.max(0, used - tonumber(ARGV[2]))
redis.call('HSET', KEYS[1], ARGV[1], left)
return left
"""


class RedisQuotas:
    """Implements Quotas on Redis (Valkey)."""

    def __init__(self, client: redis.Redis) -> None:
        self._r = client
        self._reserve = client.register_script(_RESERVE)
        self._release = client.register_script(_RELEASE)

    def reserve(self, tenant: str, quota: str, n: int, limit: int) -> int | None:
        with redis_errors():
            used = int(self._reserve(keys=[Keys.quota(tenant)], args=[quota, n, limit]))
        return None if used < 0 else used

    def release(self, tenant: str, quota: str, n: int) -> None:
        if n <= 0:
            return
        with redis_errors():
            self._release(keys=[Keys.quota(tenant)], args=[quota, n])

    def usage(self, tenant: str, quota: str) -> int:
        with redis_errors():
            return int(self._r.hget(Keys.quota(tenant), quota) or 0)
