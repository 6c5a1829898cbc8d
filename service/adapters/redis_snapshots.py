"""RedisSnapshotStore: assembled contexts with a retention period (key TTL).

Large strings (a long system prompt is in every snapshot twice: rendered and in the request)
are stored once per session by content hash, not per call.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import orjson
import redis

from service.adapters.redis_client import Keys, redis_errors, text


class RedisSnapshotStore:
    """Implements SnapshotStore on Redis."""

    def __init__(self, client: redis.Redis) -> None:
        self._r = client

    def put(
        self,
        tenant: str,
        session_id: str,
        snapshot_id: str,
        body: dict[str, Any],
        ttl_s: int,
        max_bytes: int = 0,
    ) -> int | None:
        blobs: dict[str, str] = {}
        stored = _extract(body, blobs)
        if blobs:
            stored[SESSION] = session_id  # where get() finds the blobs
        data = orjson.dumps(stored, default=str)
        if max_bytes:
            # Its blobs counted whole, shared or not: a bound on one snapshot, known here
            # without a round trip (what a tenant's snapshots hold together is not counted).
            size = len(data) + sum(len(v.encode()) for v in blobs.values())
            if size > max_bytes:
                return size
        index = Keys.session_snapshots(tenant, session_id)
        now_ms = int(time.time() * 1000)
        with redis_errors():
            pipe = self._r.pipeline(transaction=False)
            for digest, value in blobs.items():
                key = Keys.snapshot_blob(tenant, session_id, digest)
                pipe.set(key, value, ex=ttl_s, nx=True)  # stored once ...
                pipe.expire(key, ttl_s)  # ... and kept as long as its newest snapshot
            if blobs:
                pipe.sadd(Keys.session_snapshot_blobs(tenant, session_id), *blobs)
                pipe.expire(Keys.session_snapshot_blobs(tenant, session_id), ttl_s)
            pipe.set(Keys.snapshot(tenant, snapshot_id), data, ex=ttl_s)
            # The session's snapshot ids scored by their expiry, so deleting the session can
            # delete them too; ids whose snapshot has expired leave the index here (a busy
            # session's index stays as large as its retained snapshots, not its history).
            pipe.zadd(index, {snapshot_id: now_ms + ttl_s * 1000})
            pipe.zremrangebyscore(index, "-inf", now_ms)
            pipe.expire(index, ttl_s)
            pipe.execute()
        return None

    def delete_for_session(self, tenant: str, session_id: str) -> int:
        index = Keys.session_snapshots(tenant, session_id)
        legacy = Keys.session_snapshots_set(tenant, session_id)
        blob_set = Keys.session_snapshot_blobs(tenant, session_id)
        with redis_errors():
            pipe = self._r.pipeline(transaction=False)
            pipe.zrange(index, 0, -1)
            pipe.smembers(legacy)
            pipe.smembers(blob_set)
            listed, older, digests = pipe.execute()
            ids = sorted({text(i) for i in listed} | {text(i) for i in older})
            pipe = self._r.pipeline(transaction=True)
            if ids:
                pipe.delete(*[Keys.snapshot(tenant, i) for i in ids])
            blobs = [Keys.snapshot_blob(tenant, session_id, text(d)) for d in digests]
            pipe.delete(index, legacy, blob_set, *blobs)
            pipe.execute()
        return len(ids)

    def list_for_session(self, tenant: str, session_id: str, limit: int) -> list[str]:
        """The session's retained snapshot ids, newest first (scores are expiries: same order)."""
        now_ms = int(time.time() * 1000)
        index = Keys.session_snapshots(tenant, session_id)
        with redis_errors():
            found = self._r.zrevrangebyscore(index, "+inf", now_ms, start=0, num=limit)
        return [text(i) for i in found]

    def get(self, tenant: str, snapshot_id: str) -> dict[str, Any] | None:
        with redis_errors():
            data = self._r.get(Keys.snapshot(tenant, snapshot_id))
            if data is None:
                return None
            body = dict(orjson.loads(data))
            session_id = body.pop(SESSION, None)
            refs: set[str] = set()
            _refs(body, refs)
            if session_id is None or not refs:
                return body
            keys = [Keys.snapshot_blob(tenant, session_id, d) for d in sorted(refs)]
            values = self._r.mget(keys)
        found = {d: text(v) for d, v in zip(sorted(refs), values, strict=True) if v is not None}
        return dict(_resolve(body, found))


BLOB_MIN_CHARS = 4096
BLOB = "$blob"
SESSION = "$session"


_KEPT = frozenset({int, float, bool, type(None)})  # never a blob, nothing inside


def _extract(value: Any, blobs: dict[str, str]) -> Any:
    """`value` with each string of BLOB_MIN_CHARS or more replaced by {"$blob": sha256}. A
    snapshot holds hundreds of items: a number or a short string is kept without a call."""
    kind = type(value)
    if kind is dict:
        return {
            k: v
            if type(v) in _KEPT or (type(v) is str and len(v) < BLOB_MIN_CHARS)
            else _extract(v, blobs)
            for k, v in value.items()
        }
    if isinstance(value, str) and len(value) >= BLOB_MIN_CHARS:
        digest = hashlib.sha256(value.encode()).hexdigest()
        blobs[digest] = value
        return {BLOB: digest}
    if isinstance(value, dict):  # a dict subclass
        return {k: _extract(v, blobs) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_extract(v, blobs) for v in value]
    return value


def _refs(value: Any, out: set[str]) -> None:
    if isinstance(value, dict):
        if set(value) == {BLOB}:
            out.add(value[BLOB])
            return
        for v in value.values():
            _refs(v, out)
    elif isinstance(value, list):
        for v in value:
            _refs(v, out)


def _resolve(value: Any, found: dict[str, str]) -> Any:
    if isinstance(value, dict):
        if set(value) == {BLOB}:
            return found.get(value[BLOB])  # gone only if past retention, like the snapshot
        return {k: _resolve(v, found) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, found) for v in value]
    return value
