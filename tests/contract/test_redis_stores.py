"""The Redis adapters against a real Valkey server."""

from __future__ import annotations

import dataclasses
import threading
import time
from datetime import UTC, datetime

import pytest
import redis

from service.adapters.redis_embedding_cache import RedisEmbeddingCache
from service.adapters.redis_facts import RedisFactStore
from service.adapters.redis_seen_facts import RedisSeenFacts
from service.adapters.redis_sessions import RedisSessionStore
from service.adapters.redis_snapshots import RedisSnapshotStore
from service.adapters.redis_summaries import RedisSummaryStore
from service.adapters.redis_working_memory import RedisWorkingMemory
from service.domain.errors import Conflict, PreconditionFailed
from service.domain.models import Fact, NewMessage
from service.domain.summaries import Summary

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def client(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url)


def _batch(*ids: str) -> list[tuple[NewMessage, str, datetime, int]]:
    return [(NewMessage(role="user", content=f"text {i}", id=i), i, NOW, 5) for i in ids]


def test_append_is_idempotent_by_message_id(client: redis.Redis) -> None:
    store = RedisSessionStore(client)
    first = store.append("t", "s", "u", _batch("a", "b"))
    again = store.append("t", "s", "u", _batch("b", "c"))
    assert (first.appended, first.duplicates) == (2, 0)
    assert (again.appended, again.duplicates, again.new_ids) == (1, 1, ["c"])
    assert [m.id for m in store.messages("t", "s", 0, -1)] == ["a", "b", "c"]
    assert [m.seq for m in store.messages("t", "s", 0, -1)] == [0, 1, 2]
    info = store.info("t", "s")
    assert info is not None
    assert (info.message_count, info.tokens, info.pending) == (3, 15, 3)


def test_concurrent_appends_never_duplicate_or_lose(client: redis.Redis) -> None:
    store = RedisSessionStore(client)
    ids = [f"m{i}" for i in range(50)]

    def worker() -> None:
        for i in range(0, 50, 5):
            store.append("t", "race", "u", _batch(*ids[i : i + 5]))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    logged = store.messages("t", "race", 0, -1)
    assert sorted(m.id for m in logged) == sorted(ids)
    assert [m.seq for m in logged] == list(range(50))


def test_around_reads_each_turn_near_the_seqs_once_in_log_order(client: redis.Redis) -> None:
    store = RedisSessionStore(client)
    store.append("t", "s", "u", _batch(*(f"a{i}" for i in range(12))))

    def near(seqs: list[int], radius: int) -> list[str]:
        pairs = store.around("t", "s", seqs, radius)
        assert all(m is not None and m.id == i for i, m in pairs)
        return [i for i, _ in pairs]

    # Overlapping windows, a window clipped at 0 and one past the end.
    assert near([7, 0, 5, 1, 11], 1) == [f"a{i}" for i in (0, 1, 2, 4, 5, 6, 7, 8, 10, 11)]
    assert near([3, 8], 2) == [f"a{i}" for i in range(1, 11)]  # touching windows
    assert near([4, 4], 0) == []  # radius 0: nothing around
    assert near([], 1) == []


def test_session_owner_cannot_change(client: redis.Redis) -> None:
    store = RedisSessionStore(client)
    store.append("t", "s", "alice", _batch("a"))
    with pytest.raises(Conflict):
        store.append("t", "s", "mallory", _batch("b"))


def _turns(*roles: str) -> list[tuple[NewMessage, str, datetime, int]]:
    return [
        (NewMessage(role=r, content=f"text {i}", id=f"m{i}"), f"m{i}", NOW, 5)  # type: ignore[arg-type]
        for i, r in enumerate(roles)
    ]


def _summary_through(last_seq: int) -> Summary:
    return Summary("t", "s", "gist", "m0", f"m{last_seq}", 0, last_seq, 1, last_seq + 1, 3, "t", "")


def test_head_reads_the_session_before_any_search(client: redis.Redis) -> None:
    store = RedisSessionStore(client)
    store.append("t", "s", "u", _turns(*["user", "assistant"] * 5))
    assert RedisSummaryStore(client).put(_summary_through(3), 0, 0)
    RedisWorkingMemory(client).put("t", "s", {"step": 1}, None, None, keep=2)
    head = store.head("t", "s", history_limit=0, max_tokens=1000, want_last_user=True)
    assert head.info is not None
    assert head.info.message_count == 10
    assert head.summary is not None
    assert head.summary.last_seq == 3
    assert head.state == {"step": 1}
    # The turns after the summary, newest first; the last user turn among them.
    assert [m.id for m in head.recent] == ["m9", "m8", "m7", "m6", "m5", "m4"]
    assert head.last_user is not None
    assert head.last_user.id == "m8"
    # A history limit, then a token budget (5 per turn: stops once past 12).
    limited = store.head("t", "s", history_limit=2, max_tokens=1000, want_last_user=False)
    assert [m.id for m in limited.recent] == ["m9", "m8"]
    assert limited.last_user is None  # not asked for
    budget = store.head("t", "s", history_limit=0, max_tokens=12, want_last_user=False)
    assert [m.id for m in budget.recent] == ["m9", "m8", "m7"]


def test_head_finds_the_last_user_turn_behind_the_summary(client: redis.Redis) -> None:
    store = RedisSessionStore(client)
    store.append("t", "s", "u", _turns("user", "assistant", "user", "assistant", "assistant"))
    assert RedisSummaryStore(client).put(_summary_through(3), 0, 0)
    head = store.head("t", "s", history_limit=0, max_tokens=1000, want_last_user=True)
    assert [m.id for m in head.recent] == ["m4"]
    assert head.last_user is not None
    assert head.last_user.id == "m2"
    assert store.last_user_message("t", "s").id == "m2"  # type: ignore[union-attr]


def test_head_of_a_session_with_state_but_no_turns(client: redis.Redis) -> None:
    store = RedisSessionStore(client)
    RedisWorkingMemory(client).put("t", "s", {"plan": "x"}, None, None, keep=2)
    head = store.head("t", "s", history_limit=0, max_tokens=1000, want_last_user=True)
    assert (head.info, head.summary, head.recent, head.last_user) == (None, None, [], None)
    assert head.state == {"plan": "x"}


def test_delete_writes_tombstone_that_stale_jobs_see(client: redis.Redis) -> None:
    store = RedisSessionStore(client)
    epoch = store.append("t", "s", "u", _batch("a")).epoch
    store.delete("t", "s")
    assert store.info("t", "s") is None
    assert not store.mark_indexed("t", "s", epoch, ["a"])  # a job of the old epoch is refused
    again = store.append("t", "s", "u", _batch("a"))
    assert (again.epoch, again.appended) == (epoch + 1, 1)
    assert store.mark_indexed("t", "s", again.epoch, ["a"])
    info = store.info("t", "s")
    assert info is not None
    assert (info.indexed, info.pending) == (1, 0)


def test_seen_facts_per_session_go_with_the_session(client: redis.Redis) -> None:
    sessions, seen = RedisSessionStore(client), RedisSeenFacts(client)
    sessions.append("t", "s", "u", _batch("a"))
    seen.note("t", "s", {"user.location": "f1", "user.diet": "f2"})
    seen.note("t", "s", {"user.location": "f3"})  # the last one seen counts
    seen.note("t", "other", {"user.location": "f9"})
    assert seen.last("t", "s", "user.location") == "f3"
    assert seen.last("t", "s", "user.diet") == "f2"
    assert seen.last("t", "s", "user.age") is None
    assert seen.last("t2", "s", "user.location") is None  # tenants apart
    sessions.delete("t", "s")
    assert seen.last("t", "s", "user.location") is None  # deleted with the session
    assert seen.last("t", "other", "user.location") == "f9"


def test_pending_lists_unindexed_sessions(client: redis.Redis) -> None:
    store = RedisSessionStore(client)
    store.append("t1", "s1", "u", _batch("a", "b"))
    store.append("t2", "s2", "u", _batch("c"))
    store.mark_indexed("t2", "s2", 0, ["c"])
    assert [(t, s, sorted(ids)) for t, s, _, ids in store.pending()] == [("t1", "s1", ["a", "b"])]


def test_tenants_do_not_share_sessions(client: redis.Redis) -> None:
    store = RedisSessionStore(client)
    store.append("a", "s", "u", _batch("x"))
    assert store.info("b", "s") is None
    assert store.by_ids("b", "s", ["x"]) == [None]


def test_state_roundtrip_with_versions(client: redis.Redis) -> None:
    sessions, memory = RedisSessionStore(client), RedisWorkingMemory(client)
    assert sessions.head("t", "s", 0, 100, want_last_user=False).state is None
    assert memory.get("t", "s") == ({}, 0)
    assert memory.put("t", "s", {"step": 1, "items": []}, None, None, keep=2) == 1
    assert memory.put("t", "s", {"step": 2, "name": "Zoë"}, "u", 1, keep=2) == 2
    # Context reads the session's head: it sees the working memory's latest write.
    assert sessions.head("t", "s", 0, 100, want_last_user=False).state == {
        "step": 2,
        "name": "Zoë",
    }
    assert memory.get("t", "s") == ({"step": 2, "name": "Zoë"}, 2)
    with pytest.raises(PreconditionFailed):
        memory.put("t", "s", {"step": 3}, None, 1, keep=2)
    with pytest.raises(Conflict):
        memory.put("t", "s", {"step": 3}, "someone-else", None, keep=2)
    memory.put("t", "s", {"step": 3, "items": []}, "u", 2, keep=2)
    # Bounded by retention; the state's JSON comes back as written (an empty list stays one).
    assert [(v.version, v.state) for v in memory.versions("t", "s")] == [
        (3, {"step": 3, "items": []}),
        (2, {"step": 2, "name": "Zoë"}),
    ]
    sessions.delete("t", "s")
    assert memory.get("t", "s") == ({}, 0)
    assert memory.versions("t", "s") == []


def _fact(fid: str, key: str | None = None, status: str = "active") -> Fact:
    return Fact("t", fid, "u", f"fact {fid}", key, status, 1, NOW, NOW)  # type: ignore[arg-type]


def test_fact_store_slots_and_listing(client: redis.Redis) -> None:
    store = RedisFactStore(client)
    assert store.put(_fact("f1", key="diet"), None, None)
    assert store.active_for_key("t", "u", "diet").id == "f1"  # type: ignore[union-attr]
    # A writer that did not see f1 loses the compare-and-set:
    assert not store.put(_fact("fx", key="diet"), None, None)
    sup = dataclasses.replace(_fact("f1", key="diet", status="superseded"), version=2)
    assert store.put(_fact("f2", key="diet"), _fact("f1", key="diet"), sup)
    # ...and so does one that read f1 before it was superseded:
    assert not store.put(_fact("f3", key="diet"), _fact("f1", key="diet"), sup)
    assert store.active_for_key("t", "u", "diet").id == "f2"  # type: ignore[union-attr]
    assert [f.id for f in store.list_for_user("t", "u", 0, 10)] == ["f1", "f2"]
    assert store.get("other-tenant", "f1") is None


def test_snapshot_expires(client: redis.Redis) -> None:
    store = RedisSnapshotStore(client)
    store.put("t", "s", "snap", {"a": 1}, ttl_s=60)
    assert store.get("t", "snap") == {"a": 1}
    assert 0 < client.ttl("cmem:{t:t}:snapshot:snap") <= 60  # type: ignore[operator]


def test_embedding_cache_roundtrip_is_float32_exact(client: redis.Redis) -> None:
    cache = RedisEmbeddingCache(client, ttl_s=60)
    cache.put_many("t", "m", {"h1": [0.5, -0.25]})
    assert cache.get_many("t", "m", ["h1", "h2"]) == [[0.5, -0.25], None]
    assert cache.get_many("other", "m", ["h1"]) == [None]


def test_ids_with_colons_never_share_keys(client: redis.Redis) -> None:
    store = RedisSessionStore(client)
    store.append("acme", "x:s:y", "u", _batch("a"))
    assert store.info("acme:s:x", "y") is None
    assert store.by_ids("acme:s:x", "y", ["a"]) == [None]
    assert [(t, s) for t, s, _, _ in store.pending()] == [("acme", "x:s:y")]
    facts = RedisFactStore(client)
    bob = dataclasses.replace(_fact("f1", key="c"), user_id="a:slot:b", text="Bob is vegetarian")
    facts.put(bob, None, None)
    alice = dataclasses.replace(_fact("f2", key="b:slot:c"), user_id="a")
    facts.put(alice, None, None)
    assert facts.active_for_key("t", "a:slot:b", "c").id == "f1"  # type: ignore[union-attr]
    assert [f.id for f in facts.list_for_user("t", "a:slot:b", 0, 10)] == ["f1"]


def test_snapshots_go_with_their_session(client: redis.Redis) -> None:
    store = RedisSnapshotStore(client)
    store.put("t", "s1", "a", {"n": 1}, ttl_s=60)
    store.put("t", "s1", "b", {"n": 2}, ttl_s=60)
    store.put("t", "s2", "c", {"n": 3}, ttl_s=60)
    assert store.delete_for_session("t", "s1") == 2
    assert (store.get("t", "a"), store.get("t", "b")) == (None, None)
    assert store.get("t", "c") == {"n": 3}


def test_a_busy_sessions_snapshot_index_holds_only_retained_snapshots(
    client: redis.Redis,
) -> None:
    store = RedisSnapshotStore(client)
    for i in range(3):
        store.put("t", "s", f"old{i}", {"n": i}, ttl_s=1)
    time.sleep(1.1)  # those three expire
    store.put("t", "s", "new", {"n": 9}, ttl_s=60)
    index = "cmem:{t:t}:session:s:snapshots:z"
    assert [m.decode() for m in client.zrange(index, 0, -1)] == ["new"]
    assert store.delete_for_session("t", "s") == 1


def test_snapshots_indexed_before_the_sorted_set_still_go_with_their_session(
    client: redis.Redis,
) -> None:
    # As the earlier release wrote them: a plain set of ids.
    client.set("cmem:{t:t}:snapshot:legacy", b"{}", ex=60)
    client.sadd("cmem:{t:t}:session:s:snapshots", "legacy")
    store = RedisSnapshotStore(client)
    store.put("t", "s", "fresh", {"n": 1}, ttl_s=60)
    assert store.delete_for_session("t", "s") == 2
    assert (store.get("t", "legacy"), store.get("t", "fresh")) == (None, None)
    assert not client.exists("cmem:{t:t}:session:s:snapshots", "cmem:{t:t}:session:s:snapshots:z")


def test_snapshots_store_a_large_input_once_per_session(client: redis.Redis) -> None:
    store = RedisSnapshotStore(client)
    prompt = "You are a careful assistant. " * 2000  # ~58 KB, in every snapshot twice
    bodies = [
        {"messages": [{"role": "system", "content": prompt}], "n": n, "request": {"system": prompt}}
        for n in range(5)
    ]
    for n, body in enumerate(bodies):
        store.put("t", "s", f"snap{n}", body, 60)
    assert [store.get("t", f"snap{n}") for n in range(5)] == bodies
    stored = sum(client.memory_usage(k) or 0 for k in client.scan_iter(match="*"))
    assert stored < 2 * len(prompt)  # once, not 10 times
    assert store.delete_for_session("t", "s") == 5
    assert list(client.scan_iter(match="*")) == []  # blobs go with the session's snapshots
