"""RedisJobStore: background job state (queued, running, done, failed) with counts and errors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import redis

from service.adapters.redis_client import Keys, redis_errors

# Jobs are kept a week after their last update.
JOB_TTL_S = 7 * 24 * 3600


class RedisJobStore:
    """Implements JobStore on Redis: one JSON record per job, per tenant."""

    def __init__(self, client: redis.Redis) -> None:
        self._r = client

    def create(self, tenant: str, job_id: str, kind: str, payload: dict[str, Any]) -> None:
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
            self._r.set(Keys.job(tenant, job_id), orjson.dumps(record), ex=JOB_TTL_S)

    def update(self, tenant: str, job_id: str, **fields: Any) -> None:
        key = Keys.job(tenant, job_id)
        with redis_errors():
            body = self._r.get(key)
            if body is None:
                return
            record = {**orjson.loads(body), **fields, "updated_at": datetime.now(UTC).isoformat()}
            self._r.set(key, orjson.dumps(record), ex=JOB_TTL_S)

    def get(self, tenant: str, job_id: str) -> dict[str, Any] | None:
        with redis_errors():
            body = self._r.get(Keys.job(tenant, job_id))
        return None if body is None else dict(orjson.loads(body))
