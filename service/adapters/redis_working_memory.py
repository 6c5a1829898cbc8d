"""RedisWorkingMemory: a session's state (working memory) with versions: ETag, history, restore.

The current state stays in the session's `state` key (what context assembly reads, unchanged);
its version and the retained history sit beside it under the same hash tag, all written by one
script so a write is compare-and-set on the version (If-Match) and owner-checked.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import redis

from service.adapters.redis_client import Keys, redis_errors, text
from service.domain.errors import Conflict, PreconditionFailed
from service.domain.models import StateVersion

# KEYS: meta, state, state_meta, state_versions. ARGV: user_id ("" = not checked), now, expected
# version ("" = any), state JSON, versions kept. Returns {version, ""}, {-1, current version}
# (If-Match failed) or {-2, owner} (another user's session). The history entry is built by
# concatenation, so the state's JSON is stored as sent (never re-encoded by cjson).
_PUT = """
if ARGV[1] ~= '' then
  local owner = redis.call('HGET', KEYS[1], 'user_id')
  if owner and owner ~= ARGV[1] then return {-2, owner} end
  if not owner then redis.call('HSET', KEYS[1], 'user_id', ARGV[1], 'created_at', ARGV[2]) end
end
local version = tonumber(redis.call('HGET', KEYS[3], 'version') or '0')
if ARGV[3] ~= '' and tostring(version) ~= ARGV[3] then return {-1, tostring(version)} end
version = version + 1
redis.call('SET', KEYS[2], ARGV[4])
redis.call('HSET', KEYS[3], 'version', version, 'updated_at', ARGV[2])
redis.call('LPUSH', KEYS[4],
  '{"version":' .. version .. ',"updated_at":"' .. ARGV[2] .. '","state":' .. ARGV[4] .. '}')
redis.call('LTRIM', KEYS[4], 0, tonumber(ARGV[5]) - 1)
return {version, ''}
"""


class RedisWorkingMemory:
    """Implements WorkingMemoryStore on Redis."""

    def __init__(self, client: redis.Redis) -> None:
        self._r = client
        self._put = client.register_script(_PUT)

    def put(
        self,
        tenant: str,
        session_id: str,
        state: dict[str, Any],
        user_id: str | None,
        expected_version: int | None,
        keep: int,
    ) -> int:
        """Write a new version (returned); Conflict if the session is another user's,
        PreconditionFailed if it is not at `expected_version`."""
        keys = [
            Keys.session(tenant, session_id, part)
            for part in ("meta", "state", "state_meta", "state_versions")
        ]
        body = json.dumps(state, separators=(",", ":"), ensure_ascii=False)
        now = datetime.now(UTC).isoformat()
        expected = "" if expected_version is None else str(expected_version)
        with redis_errors():
            out = self._put(keys=keys, args=[user_id or "", now, expected, body, keep])
        if out[0] == -2:
            raise Conflict(
                f"session {session_id!r} belongs to another user",
                field="user_id",
                owner=text(out[1]),
            )
        if out[0] == -1:
            raise PreconditionFailed(
                f"state of session {session_id!r} is at version {text(out[1])}, "
                f"not {expected_version}",
                field="If-Match",
            )
        return int(out[0])

    def get(self, tenant: str, session_id: str) -> tuple[dict[str, Any], int]:
        """The current state ({} if none) and its version (0 if never written)."""
        with redis_errors():
            pipe = self._r.pipeline(transaction=False)
            pipe.get(Keys.session(tenant, session_id, "state"))
            pipe.hget(Keys.session(tenant, session_id, "state_meta"), "version")
            body, version = pipe.execute()
        return (dict(json.loads(body)) if body else {}), int(version or 0)

    def versions(self, tenant: str, session_id: str) -> list[StateVersion]:
        """The retained versions, newest first."""
        with redis_errors():
            raw = self._r.lrange(Keys.session(tenant, session_id, "state_versions"), 0, -1)
        out = []
        for item in raw:
            d = json.loads(item)
            out.append(StateVersion(int(d["version"]), str(d["updated_at"]), dict(d["state"])))
        return out
