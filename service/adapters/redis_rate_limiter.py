"""RedisRateLimiter: a token bucket per API key in Redis (shared by every API replica)."""

from __future__ import annotations

import redis

from service.adapters.redis_client import Keys, redis_errors

# KEYS: the bucket. ARGV: rate (tokens/s), burst. Server time, so replicas agree. Returns the
# seconds to wait (as a string: Lua numbers become integers in replies), "0" when allowed.
_TAKE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + (now - at) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return tostring(wait)
"""


class RedisRateLimiter:
    """Implements RateLimiter: `rate` requests per second per bucket, bursts up to `burst`."""

    def __init__(self, client: redis.Redis, rate: float, burst: int) -> None:
        self._take = client.register_script(_TAKE)
        self.rate = rate
        self._burst = burst

    def take(self, tenant: str, bucket: str) -> float:
        with redis_errors():
            wait = self._take(keys=[Keys.rate_limit(tenant, bucket)], args=[self.rate, self._burst])
        return float(wait)
