"""RedisSummaryStore: one rolling summary per session, replaced by compare-and-set on its version.

The summary lives under the session's hash tag, so deleting the session deletes it; the write
also checks the session's epoch, so a compaction that raced a deletion cannot bring it back.
"""

from __future__ import annotations

from dataclasses import asdict

import orjson
import redis

from service.adapters.redis_client import Keys, redis_errors
from service.domain.summaries import Summary

# KEYS: summary, epoch. ARGV: expected version (0 = none yet), epoch, body.
_PUT = """
if tonumber(redis.call('GET', KEYS[2]) or '0') ~= tonumber(ARGV[2]) then return 0 end
local current = redis.call('GET', KEYS[1])
local version = 0
if current then version = tonumber(cjson.decode(current).version) end
if version ~= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[3])
return 1
"""


class RedisSummaryStore:
    """Implements SummaryStore on Redis."""

    def __init__(self, client: redis.Redis) -> None:
        self._r = client
        self._put = client.register_script(_PUT)

    def get(self, tenant: str, session_id: str) -> Summary | None:
        with redis_errors():
            body = self._r.get(Keys.session(tenant, session_id, "summary"))
        return decode_summary(body)

    def put(self, summary: Summary, expected_version: int, epoch: int) -> bool:
        keys = [
            Keys.session(summary.tenant, summary.session_id, "summary"),
            Keys.session(summary.tenant, summary.session_id, "epoch"),
        ]
        with redis_errors():
            return bool(
                self._put(keys=keys, args=[expected_version, epoch, orjson.dumps(asdict(summary))])
            )


def decode_summary(body: bytes | str | None) -> Summary | None:
    """The summary in a stored body (the session store's head script reads it too)."""
    return None if body is None else Summary(**orjson.loads(body))
