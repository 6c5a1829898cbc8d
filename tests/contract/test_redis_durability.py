"""RedisDurability against real Valkey servers: one with an AOF, one without."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from service.adapters.redis_durability import RedisDurability
from service.domain.errors import StoreUnavailable
from service.runtime.valkey import EmbeddedValkey


@pytest.fixture
def aof_valkey(tmp_path: Path) -> Iterator[redis.Redis]:
    valkey = EmbeddedValkey(tmp_path / "valkey")
    valkey.start()
    client = redis.Redis.from_url(valkey.connection_url)
    yield client
    client.close()
    valkey.stop()


def test_waits_for_fsync_on_an_aof_server(aof_valkey: redis.Redis) -> None:
    """WAITAOF answers how many local fsyncs confirmed the probe: 1, or the adapter raises."""
    durability = RedisDurability(aof_valkey)
    durability.check_supported()
    for n in range(3):
        aof_valkey.rpush("k", n)
        durability.wait_fsynced()
    assert aof_valkey.llen("k") == 3


def test_strict_is_refused_without_an_aof(redis_url: str) -> None:
    """The session's test Valkey runs without appendonly: WAITAOF cannot confirm anything."""
    client = redis.Redis.from_url(redis_url)
    durability = RedisDurability(client)
    with pytest.raises(StoreUnavailable, match="appendonly"):
        durability.check_supported()
    with pytest.raises(StoreUnavailable, match="appendonly"):
        durability.wait_fsynced()
    client.close()
