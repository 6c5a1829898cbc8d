"""Usage counters, job and snapshot listings, and key revocation, against real stores."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis

from service.adapters.key_file import KeyFile
from service.adapters.redis_jobs import RedisJobStore
from service.adapters.redis_sessions import RedisSessionStore
from service.adapters.redis_snapshots import RedisSnapshotStore
from service.adapters.redis_usage import RedisUsageStats
from service.domain.errors import Conflict
from service.domain.models import NewMessage

NOW_MS = 1_800_000_000_000


@pytest.fixture
def client(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url)


def test_sizes_move_between_buckets_and_leave_on_removal(client: redis.Redis) -> None:
    usage = RedisUsageStats(client)
    usage.session_grew("t", "a", "u-a", (0, 0), (3, 300), True, NOW_MS)
    usage.session_grew("t", "a", "u-a", (3, 300), (30, 4000), True, NOW_MS)
    usage.session_grew("t", "b", "u-b", (0, 0), (1, 50), False, NOW_MS)
    got = usage.read(NOW_MS)
    assert got.messages.buckets == {"5": 0, "50": 1, "1": 1}
    assert got.messages.total == 31
    assert got.tokens.buckets == {"500": 0, "5000": 1, "100": 1}
    assert got.tokens.total == 4050
    usage.session_removed("t", "a", (30, 4000))
    got = usage.read(NOW_MS)
    assert got.messages.buckets == {"5": 0, "50": 0, "1": 1}
    assert got.messages.total == 1
    assert got.store_memory_bytes > 0
    assert usage.users("t") == 2
    assert usage.users("elsewhere") == 0


def test_activity_windows_and_the_tenants_session_listing(client: redis.Redis) -> None:
    usage = RedisUsageStats(client)
    usage.session_grew("t", "old", "u-old", (0, 0), (1, 1), False, NOW_MS - 2 * 3600 * 1000)
    usage.session_grew("t", "recent", "u-recent", (0, 0), (1, 1), False, NOW_MS - 10 * 60 * 1000)
    usage.session_grew("t", "now", "u-now", (0, 0), (1, 1), False, NOW_MS)
    usage.session_grew("other", "x", "u-x", (0, 0), (1, 1), False, NOW_MS)
    assert usage.read(NOW_MS).active_sessions == {"5m": 2, "1h": 3, "24h": 4}
    page, total = usage.recent_sessions("t", 0, 2)
    assert [s for s, _ in page] == ["now", "recent"]
    assert total == 3
    assert usage.recent_sessions("t", 2, 10)[0] == [("old", NOW_MS - 2 * 3600 * 1000)]
    # The total alone (the overview's): no page read, not every session (ZREVRANGE 0 -1).
    assert usage.recent_sessions("t", 0, 0) == ([], 3)
    usage.session_removed("t", "now", (1, 1))
    assert [s for s, _ in usage.recent_sessions("t", 0, 10)[0]] == ["recent", "old"]


def test_pending_indexing_and_write_behind_ages(client: redis.Redis) -> None:
    usage = RedisUsageStats(client)
    usage.session_grew("t", "a", "u-a", (0, 0), (2, 2), True, NOW_MS - 5000)
    usage.session_grew(
        "t", "a", "u-a", (2, 2), (3, 3), True, NOW_MS - 1000
    )  # still waiting since -5 s
    usage.session_grew("t", "b", "u-b", (0, 0), (1, 1), True, NOW_MS - 2000)
    got = usage.read(NOW_MS)
    assert (got.pending_indexing_sessions, got.oldest_pending_indexing_s) == (2, 5.0)
    usage.indexing_left("t", "a", 1)  # one turn still waits: unchanged
    assert usage.read(NOW_MS).oldest_pending_indexing_s == 5.0
    usage.indexing_left("t", "a", 0)
    assert usage.read(NOW_MS).oldest_pending_indexing_s == 2.0
    usage.write_behind("t", "d", NOW_MS / 1000 - 7)
    usage.write_behind("t", "d", NOW_MS / 1000 - 1)  # a newer write: the wait began earlier
    got = usage.read(NOW_MS)
    assert (got.write_behind_documents, got.write_behind_lag_s) == (1, 7.0)
    usage.write_behind("t", "d", None)
    assert usage.read(NOW_MS).write_behind_lag_s == 0.0


def test_append_reports_the_sessions_size_after(client: redis.Redis) -> None:
    store = RedisSessionStore(client)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    batch = [
        (NewMessage(role="user", content=f"m{i}", id=f"m{i}"), f"m{i}", at, 7) for i in range(3)
    ]
    first = store.append("t", "s", "u", batch)
    again = store.append("t", "s", "u", [*batch[1:], (batch[0][0], "m9", at, 4)])
    assert (first.messages, first.tokens) == (3, 21)
    assert (again.messages, again.tokens, again.appended) == (4, 25, 1)


def test_jobs_are_listed_newest_first_per_tenant(client: redis.Redis) -> None:
    jobs = RedisJobStore(client)
    for n in range(3):
        jobs.create("t", f"j{n}", "documents.ingest", {"n": n})
    jobs.create("other", "x", "documents.ingest", {})
    jobs.update("t", "j1", state="failed", error="boom")
    listed = jobs.recent("t", 10)
    assert [j["job_id"] for j in listed] == ["j2", "j1", "j0"]
    assert listed[1]["state"] == "failed"
    assert [j["job_id"] for j in jobs.recent("t", 1)] == ["j2"]


def test_snapshots_are_listed_per_session_newest_first(client: redis.Redis) -> None:
    snapshots = RedisSnapshotStore(client)
    for n in range(3):
        snapshots.put("t", "s", f"snap{n}", {"n": n}, ttl_s=3600 + n)
    snapshots.put("t", "other", "elsewhere", {}, ttl_s=3600)
    assert snapshots.list_for_session("t", "s", 10) == ["snap2", "snap1", "snap0"]
    assert snapshots.list_for_session("t", "s", 1) == ["snap2"]
    snapshots.delete_for_session("t", "s")
    assert snapshots.list_for_session("t", "s", 10) == []


def test_keys_are_listed_per_tenant_and_revoked(tmp_path: Path) -> None:
    keys = KeyFile(tmp_path / "keys.json")
    admin = keys.create("acme", "admin")
    client_key = keys.create("acme", "client")
    keys.create("other", "admin")
    listed = keys.list_keys("acme")
    assert {(k.key_id, k.role) for k in listed} == {
        (admin[:9], "admin"),
        (client_key[:9], "client"),
    }
    assert keys.revoke("other", admin[:9]) is False  # not that tenant's key
    assert keys.revoke("acme", client_key[:9]) is True
    assert keys.authenticate(client_key) is None
    assert keys.authenticate(admin) is not None
    assert keys.revoke("acme", client_key[:9]) is False


def test_revoking_an_ambiguous_key_id_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    keys = KeyFile(path)
    keys.create("acme", "admin")
    text = path.read_text()
    prefix = keys.list_keys("acme")[0].key_id
    # A second entry with the same public prefix (9 characters can collide).
    path.write_text(
        text.replace(
            '"keys": [',
            '"keys": [{"sha256": "x", "tenant": "acme", "role": "client", "prefix": "'
            + prefix
            + '"},',
        )
    )
    with pytest.raises(Conflict):
        keys.revoke("acme", prefix)
