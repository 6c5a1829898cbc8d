"""RedisJobStore: background job state (queued, running, done, failed) with counts and errors.

Resumable jobs (re-index) are also listed in one registry of open jobs and run under a lease:
a worker that dies stops renewing it, and the next worker to start resumes the job.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import redis

from service.adapters.redis_client import Keys, redis_errors, text

# Jobs are kept a week after their last update.
JOB_TTL_S = 7 * 24 * 3600
RECENT_JOBS = 1000  # per tenant, listed for operators

# KEYS: lease. ARGV: owner, ttl ms. Take a free lease, or renew one we hold.
_LEASE = """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""

# KEYS: lease. ARGV: owner. Release only a lease we hold.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisJobStore:
    """Implements JobStore on Redis: one JSON record per job, per tenant."""

    def __init__(self, client: redis.Redis) -> None:
        self._r = client
        self._lease = client.register_script(_LEASE)
        self._release = client.register_script(_RELEASE)

    def create(
        self,
        tenant: str,
        job_id: str,
        kind: str,
        payload: dict[str, Any],
        resumable: bool = False,
    ) -> None:
        now = datetime.now(UTC).isoformat()
        record = {
            "job_id": job_id,
            "kind": kind,
            "state": "queued",
            "progress": 0.0,
            "counts": {},
            "error": None,
            "payload": payload,
            "created_at": now,
            "updated_at": now,
        }
        with redis_errors():
            pipe = self._r.pipeline(transaction=True)
            pipe.set(Keys.job(tenant, job_id), orjson.dumps(record), ex=JOB_TTL_S)
            recent = Keys.tenant_jobs(tenant)
            pipe.zadd(recent, {job_id: int(datetime.now(UTC).timestamp() * 1000)})
            pipe.zremrangebyrank(recent, 0, -RECENT_JOBS - 1)
            if resumable:
                pipe.sadd(Keys.open_jobs(), orjson.dumps([tenant, job_id]))
            pipe.execute()

    def update(self, tenant: str, job_id: str, **fields: Any) -> None:
        """Merge fields into the record, atomically (optimistic WATCH/MULTI, retried)."""
        key = Keys.job(tenant, job_id)

        def merge(pipe: Any) -> None:
            body = pipe.get(key)
            if body is None:
                return
            record = {**orjson.loads(body), **fields, "updated_at": datetime.now(UTC).isoformat()}
            pipe.multi()
            pipe.set(key, orjson.dumps(record), ex=JOB_TTL_S)

        with redis_errors():
            self._r.transaction(merge, key)

    def get(self, tenant: str, job_id: str) -> dict[str, Any] | None:
        with redis_errors():
            body = self._r.get(Keys.job(tenant, job_id))
        return None if body is None else dict(orjson.loads(body))

    def recent(self, tenant: str, limit: int) -> list[dict[str, Any]]:
        """The tenant's latest jobs, newest first (those past their retention left out)."""
        with redis_errors():
            ids = self._r.zrevrange(Keys.tenant_jobs(tenant), 0, limit - 1)
            if not ids:
                return []
            bodies = self._r.mget([Keys.job(tenant, text(i)) for i in ids])
        return [dict(orjson.loads(b)) for b in bodies if b is not None]

    def lease(self, tenant: str, job_id: str, owner: str, ttl_s: float) -> bool:
        with redis_errors():
            return bool(
                self._lease(keys=[Keys.job_lease(tenant, job_id)], args=[owner, int(ttl_s * 1000)])
            )

    def release(self, tenant: str, job_id: str, owner: str) -> None:
        with redis_errors():
            self._release(keys=[Keys.job_lease(tenant, job_id)], args=[owner])

    def leased(self, tenant: str, job_id: str) -> bool:
        with redis_errors():
            return bool(self._r.exists(Keys.job_lease(tenant, job_id)))

    def close(self, tenant: str, job_id: str) -> None:
        """Take a finished resumable job off the registry of open jobs."""
        with redis_errors():
            self._r.srem(Keys.open_jobs(), orjson.dumps([tenant, job_id]))

    def open_jobs(self) -> list[tuple[str, str]]:
        with redis_errors():
            members = self._r.smembers(Keys.open_jobs())
        pairs = [orjson.loads(text(m)) for m in members]
        return sorted((str(t), str(j)) for t, j in pairs)
