"""Fact counts per status, kept by the facts scripts in the same step as each write: exact
under every write path and under racing writers; a limit on current facts refuses atomically;
a recount sets counters that lack records' moves (facts from before counting began)."""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, datetime

import pytest
import redis

from service.adapters.redis_client import Keys
from service.adapters.redis_facts import RedisFactStore
from service.domain.errors import QuotaExceeded
from service.domain.models import Fact

NOW = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.fixture
def store(redis_url: str) -> RedisFactStore:
    return RedisFactStore(redis.Redis.from_url(redis_url))


def _fact(fid: str, key: str | None = None, status: str = "active", user: str = "u") -> Fact:
    return Fact("t", fid, user, f"fact {fid}", key, status, 1, NOW, NOW)  # type: ignore[arg-type]


def _moved(fact: Fact, status: str) -> Fact:
    return dataclasses.replace(fact, status=status, version=fact.version + 1)  # type: ignore[arg-type]


def test_every_write_path_moves_the_counts(store: RedisFactStore) -> None:
    assert store.counts("t") == {}
    f1 = _fact("f1", key="city")
    assert store.put(f1, None, None)
    assert store.put(_fact("f2"), None, None)
    assert store.counts("t") == {"active": 2}
    # Supersession: the new fact takes the old one's place; no growth.
    f3 = _fact("f3", key="city")
    assert store.put(f3, f1, _moved(f1, "superseded"))
    assert store.counts("t") == {"active": 2, "superseded": 1}
    # A late older statement goes into history beside the current one.
    assert store.put(_fact("f4", key="city", status="superseded"), None, None, claim_slot=False)
    assert store.counts("t") == {"active": 2, "superseded": 2}
    # Both kept in a conflict: one more current fact.
    f5 = _fact("f5", key="city", status="conflict")
    assert store.put(f5, f3, _moved(f3, "conflict"))
    assert store.counts("t") == {"active": 1, "conflict": 2, "superseded": 2}
    f3c = _moved(f3, "conflict")
    assert store.replace(_moved(f3c, "active"), f3c.version, claim_slot=True)
    assert store.replace(_moved(f5, "superseded"), f5.version)
    assert store.counts("t") == {"active": 2, "superseded": 3}
    # A lost compare-and-set moves nothing.
    assert not store.put(_fact("fx", key="city"), None, None)
    assert not store.replace(_moved(f5, "active"), 99)
    assert store.counts("t") == {"active": 2, "superseded": 3}
    f2 = _fact("f2")
    assert store.delete(_moved(f2, "deleted"), f2.version)
    assert store.counts("t") == {"active": 1, "superseded": 3, "deleted": 1}
    # Another user's facts, then the user is forgotten: only theirs leave the counts.
    assert store.put(_fact("g1", user="v"), None, None)
    assert len(store.purge_user("t", "u")) == 5
    assert store.counts("t") == {"active": 1}
    assert store.counts("other") == {}


def test_a_limit_on_current_facts_refuses_before_writing(store: RedisFactStore) -> None:
    assert store.put(_fact("a"), None, None, limit=2)
    a2 = _fact("k1", key="k")
    assert store.put(a2, None, None, limit=2)
    with pytest.raises(QuotaExceeded) as refused:
        store.put(_fact("b"), None, None, limit=2)
    assert refused.value.details == {"quota": "facts", "limit": 2, "used": 2, "requested": 1}
    assert store.get("t", "b") is None  # nothing written
    assert store.list_for_user("t", "u", 0, 10) == [_fact("a"), a2]
    # Superseding the key's fact adds no current fact: allowed at the limit.
    assert store.put(_fact("k2", key="k"), a2, _moved(a2, "superseded"), limit=2)
    # Keeping both in a conflict would add one: refused.
    k2 = _fact("k2", key="k")
    with pytest.raises(QuotaExceeded):
        store.put(_fact("k3", key="k", status="conflict"), k2, _moved(k2, "conflict"), limit=2)
    assert store.get("t", "k2") == k2  # untouched
    assert store.counts("t") == {"active": 2, "superseded": 1}


def test_racing_writers_never_pass_the_limit(store: RedisFactStore) -> None:
    stored: list[str] = []
    barrier = threading.Barrier(12)

    def write(n: int) -> None:
        barrier.wait()
        try:
            if store.put(_fact(f"r{n}"), None, None, limit=5):
                stored.append(f"r{n}")
        except QuotaExceeded:
            pass

    threads = [threading.Thread(target=write, args=(n,)) for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(stored) == 5
    assert store.counts("t") == {"active": 5}
    assert len(store.list_for_user("t", "u", 0, 100)) == 5


def test_recount_sets_counters_that_missed_writes(store: RedisFactStore) -> None:
    for n in range(3):
        assert store.put(_fact(f"f{n}", user=f"u{n}"), None, None)
    f0 = _fact("f0", user="u0")
    assert store.delete(_moved(f0, "deleted"), f0.version)
    other = dataclasses.replace(_fact("o1"), tenant="t2")
    assert store.put(other, None, None)
    assert store.recount() == {}  # the writes kept them exact
    # Facts from before counting began (or a counter lost): the recount sets them.
    store._r.delete(Keys.fact_counts("t"))
    store._r.hset(Keys.fact_counts("t2"), "active", 7)
    drift = store.recount()
    assert drift == {
        "t": ({}, {"active": 2, "deleted": 1}),
        "t2": ({"active": 7}, {"active": 1}),
    }
    assert store.counts("t") == {"active": 2, "deleted": 1}
    assert store.counts("t2") == {"active": 1}
    # The counters go on from there.
    assert store.put(_fact("f9"), None, None)
    assert store.counts("t") == {"active": 3, "deleted": 1}
