"""RedisFactStore: fact records, a per-user index by time, and one active fact per key slot."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

import redis

from service.adapters.redis_client import Keys, redis_errors, text
from service.domain.models import Fact


class RedisFactStore:
    """Implements FactStore on Redis; the record, not the vector, is the truth."""

    def __init__(self, client: redis.Redis) -> None:
        self._r = client

    def put(self, fact: Fact, supersede: Fact | None) -> None:
        with redis_errors():
            pipe = self._r.pipeline(transaction=True)
            pipe.set(Keys.fact(fact.tenant, fact.id), _encode(fact))
            pipe.zadd(
                Keys.user_facts(fact.tenant, fact.user_id),
                {fact.id: fact.recorded_at.timestamp()},
            )
            if supersede is not None:
                pipe.set(Keys.fact(supersede.tenant, supersede.id), _encode(supersede))
            if fact.key is not None:
                pipe.set(Keys.fact_slot(fact.tenant, fact.user_id, fact.key), fact.id)
            pipe.execute()

    def get(self, tenant: str, fact_id: str) -> Fact | None:
        return self.get_many(tenant, [fact_id])[0]

    def get_many(self, tenant: str, ids: Sequence[str]) -> list[Fact | None]:
        if not ids:
            return []
        with redis_errors():
            bodies: list[bytes | None] = self._r.mget(  # type: ignore[assignment]
                [Keys.fact(tenant, i) for i in ids]
            )
        return [None if b is None else _decode(b) for b in bodies]

    def active_for_key(self, tenant: str, user_id: str, key: str) -> Fact | None:
        with redis_errors():
            fact_id = self._r.get(Keys.fact_slot(tenant, user_id, key))
        if fact_id is None:
            return None
        fact = self.get(tenant, text(fact_id))
        return fact if fact is not None and fact.status == "active" else None

    def list_for_user(self, tenant: str, user_id: str, offset: int, limit: int) -> list[Fact]:
        with redis_errors():
            ids = self._r.zrange(Keys.user_facts(tenant, user_id), offset, offset + limit - 1)
        facts = self.get_many(tenant, [text(i) for i in ids])
        return [f for f in facts if f is not None]

    def delete(self, fact: Fact) -> None:
        """Keep the record with status `deleted` (history); drop it from the user's index."""
        with redis_errors():
            pipe = self._r.pipeline(transaction=True)
            pipe.set(Keys.fact(fact.tenant, fact.id), _encode(fact))
            pipe.zrem(Keys.user_facts(fact.tenant, fact.user_id), fact.id)
            if fact.key is not None:
                slot = Keys.fact_slot(fact.tenant, fact.user_id, fact.key)
                # Free the slot only if it still points at this fact.
                if self._r.get(slot) == fact.id.encode():
                    pipe.delete(slot)
            pipe.execute()


def _encode(fact: Fact) -> str:
    body: dict[str, Any] = asdict(fact)
    for name in ("recorded_at", "valid_from", "valid_to"):
        value = body[name]
        body[name] = value.isoformat() if value is not None else None
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def _decode(raw: bytes) -> Fact:
    d = json.loads(raw)
    for name in ("recorded_at", "valid_from", "valid_to"):
        if d[name] is not None:
            d[name] = datetime.fromisoformat(d[name])
    return Fact(**d)
