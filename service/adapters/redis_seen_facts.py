"""RedisSeenFacts: per session, the fact each key last showed it (a hash in the session's
hash tag, deleted with the session's other parts)."""

from __future__ import annotations

from collections.abc import Mapping

import redis

from service.adapters.redis_client import Keys, redis_errors


class RedisSeenFacts:
    """Implements SeenFacts: hash `facts_seen` of the session, fact key -> fact id."""

    def __init__(self, client: redis.Redis) -> None:
        self._r = client

    def note(self, tenant: str, session_id: str, seen: Mapping[str, str]) -> None:
        if not seen:
            return
        pairs = [part for pair in seen.items() for part in pair]  # key, fact id, key, ...
        with redis_errors():
            self._r.hset(Keys.session(tenant, session_id, "facts_seen"), items=pairs)

    def last(self, tenant: str, session_id: str, key: str) -> str | None:
        with redis_errors():
            value = self._r.hget(Keys.session(tenant, session_id, "facts_seen"), key)
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)
