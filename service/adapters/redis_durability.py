"""Strict durability on Redis/Valkey: WAITAOF until the writes before it are fsynced."""

from __future__ import annotations

import redis
import redis.exceptions

from service.adapters.redis_client import Keys, redis_errors
from service.domain.errors import StoreUnavailable

NEEDS = "strict durability needs Redis/Valkey >= 7.2 with appendonly yes (WAITAOF)"


def _version(info: dict[str, object]) -> tuple[int, ...]:
    # Valkey reports redis_version 7.2.4 for compatibility and its own valkey_version.
    text = str(info.get("valkey_version") or info.get("redis_version") or "0")
    return tuple(int(p) for p in text.split(".")[:2] if p.isdigit())


class RedisDurability:
    """Implements Durability. The AOF is one sequential file: once a write made *after* ours
    is fsynced, so is ours. So WAITAOF runs after a probe write on the same connection (WAITAOF
    waits for that connection's own last write), whichever connection carried the real one."""

    def __init__(self, client: redis.Redis, timeout_ms: int = 2000) -> None:
        self._r = client
        self._timeout_ms = timeout_ms

    def check_supported(self) -> None:
        with redis_errors():
            info = self._r.info("server")
            aof = self._r.info("persistence").get("aof_enabled")
        if _version(info) < (7, 2) or not aof:
            raise StoreUnavailable("redis", NEEDS)

    def wait_fsynced(self) -> None:
        pipe = self._r.pipeline(transaction=False)
        pipe.incr(Keys.fsync_probe())
        pipe.execute_command("WAITAOF", 1, 0, self._timeout_ms)  # type: ignore[no-untyped-call]
        try:
            with redis_errors():
                _, (local, _replicas) = pipe.execute()
        except redis.exceptions.ResponseError as exc:  # an old server, or AOF off
            raise StoreUnavailable("redis", NEEDS) from exc
        if int(local) < 1:
            raise StoreUnavailable(
                "redis", f"the write was not confirmed on disk within {self._timeout_ms} ms"
            )
