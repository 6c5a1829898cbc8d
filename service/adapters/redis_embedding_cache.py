"""RedisEmbeddingCache: content-addressed float32 vectors per tenant and model."""

from __future__ import annotations

from array import array
from collections.abc import Sequence

import redis

from service.adapters.redis_client import Keys, redis_errors


class RedisEmbeddingCache:
    """Implements EmbeddingCache on Redis; vectors are stored as raw float32 bytes."""

    def __init__(self, client: redis.Redis, ttl_s: int) -> None:
        self._r = client
        self._ttl_s = ttl_s

    def get_many(self, tenant: str, model: str, hashes: Sequence[str]) -> list[list[float] | None]:
        if not hashes:
            return []
        with redis_errors():
            raw: list[bytes | None] = self._r.mget(  # type: ignore[assignment]
                [Keys.embedding(tenant, model, h) for h in hashes]
            )
        return [None if b is None else [float(x) for x in array("f", b)] for b in raw]

    def clear(self, tenant: str) -> int:
        """Drop every cached vector of the tenant; returns how many."""
        removed = 0
        with redis_errors():
            batch: list[bytes] = []
            for key in self._r.scan_iter(match=Keys.embedding_pattern(tenant), count=1000):
                batch.append(key)
                if len(batch) >= 1000:
                    removed += int(self._r.unlink(*batch))
                    batch = []
            if batch:
                removed += int(self._r.unlink(*batch))
        return removed

    def delete_many(self, tenant: str, model: str, hashes: Sequence[str]) -> int:
        if not hashes:
            return 0
        with redis_errors():
            return int(self._r.delete(*[Keys.embedding(tenant, model, h) for h in hashes]))

    def put_many(self, tenant: str, model: str, items: dict[str, list[float]]) -> None:
        if not items:
            return
        with redis_errors():
            pipe = self._r.pipeline(transaction=False)
            for content_hash, vector in items.items():
                key = Keys.embedding(tenant, model, content_hash)
                pipe.set(key, array("f", vector).tobytes(), ex=self._ttl_s)
            pipe.execute()
