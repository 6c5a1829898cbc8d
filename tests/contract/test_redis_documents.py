"""The document store's coherence rules against a real Valkey: monotonic switch, tombstones."""

from __future__ import annotations

import pytest
import redis

from service.adapters.redis_documents import HISTORY, RedisDocumentStore
from service.domain.documents import DocumentVersion

NOW = "2026-01-01T00:00:00+00:00"


@pytest.fixture
def store(redis_url: str) -> RedisDocumentStore:
    return RedisDocumentStore(redis.Redis.from_url(redis_url))


def _write(store: RedisDocumentStore, doc: str, version: str, tags: list[str] | None = None) -> int:
    seq = store.next_sequence("t", doc)
    store.add_version(
        "t",
        doc,
        DocumentVersion(version, seq, "pending", 3, NOW),
        f"text of {version}",
        tags or [],
        {"k": 1},
    )
    return seq


def test_switch_is_monotonic_in_sequence(store: RedisDocumentStore) -> None:
    old = _write(store, "d", "v1")
    new = _write(store, "d", "v2")
    assert store.switch_live("t", "d", "v2", new, 0, NOW) == (True, None)
    # The slow job for the older write arrives late: it can never make v1 live again.
    assert store.switch_live("t", "d", "v1", old, 0, NOW) == (False, None)
    assert store.live("t", ["d"])["d"].version == "v2"
    doc = store.get("t", "d")
    assert doc is not None
    assert [(v.version, v.status) for v in doc.versions] == [("v1", "stale"), ("v2", "live")]
    assert doc.live_version == "v2"
    assert doc.metadata == {"k": 1}


def test_switch_reports_the_previous_version(store: RedisDocumentStore) -> None:
    first = _write(store, "d", "v1")
    assert store.switch_live("t", "d", "v1", first, 0, NOW) == (True, None)
    second = _write(store, "d", "v2")
    assert store.switch_live("t", "d", "v2", second, 0, NOW) == (True, "v1")
    assert store.source("t", "d", "v2") == "text of v2"


def test_delete_outranks_every_earlier_write(store: RedisDocumentStore) -> None:
    seq = _write(store, "d", "v1", tags=["a"])
    store.delete("t", "d")
    assert store.switch_live("t", "d", "v1", seq, 0, NOW) == (False, None)  # no resurrection
    assert store.live("t", ["d"]) == {}
    assert store.get("t", "d") is None
    assert store.source("t", "d", "v1") is None
    again = _write(store, "d", "v3")  # a later write of the same id is a new document
    assert store.switch_live("t", "d", "v3", again, 0, NOW)[0]


def test_live_map_is_per_tenant_and_carries_expiry(store: RedisDocumentStore) -> None:
    seq = _write(store, "d", "v1")
    store.switch_live("t", "d", "v1", seq, 1_900_000_000, NOW)
    live = store.live("t", ["d", "missing", "d"])
    assert list(live) == ["d"]
    assert live["d"].expires_at == 1_900_000_000
    assert live["d"].expired(1_900_000_001)
    assert store.live("other", ["d"]) == {}


def test_list_in_id_order_with_empty_tags(store: RedisDocumentStore) -> None:
    _write(store, "b", "v1", tags=["x"])
    _write(store, "a", "v1")
    _write(store, "b", "v2")  # a rewrite does not move a document in the order
    docs = store.list("t", 0, 10)
    assert [d.doc_id for d in docs] == ["a", "b"]
    assert docs[0].tags == []


def test_ids_page_by_cursor(store: RedisDocumentStore) -> None:
    for doc_id in ("c", "a:1", "b", "a"):
        _write(store, doc_id, "v1")
    assert store.count("t") == 4
    assert store.ids("t", "", 2) == ["a", "a:1"]
    assert store.ids("t", "a:1", 2) == ["b", "c"]
    assert store.ids("t", "c", 2) == []
    store.delete("t", "b")
    assert store.ids("t", "a:1", 10) == ["c"]


def test_invalidation_marker_then_reembed_of_the_same_version(store: RedisDocumentStore) -> None:
    seq = _write(store, "d", "v1")
    store.switch_live("t", "d", "v1", seq, 0, NOW)
    marker = store.next_sequence("t", "d")
    assert store.switch_live("t", "d", "", marker, 0, NOW) == (True, "v1")
    assert store.live("t", ["d"])["d"].version == ""
    assert store.switch_live("t", "d", "v1", seq, 0, NOW) == (False, None)  # older: refused
    assert store.switch_live("t", "d", "v1", marker, 0, NOW)[0]  # its own rebuild: allowed
    doc = store.get("t", "d")
    assert doc is not None
    assert (doc.live_version, doc.status) == ("v1", "live")


def test_sources_leave_with_the_history_entries_that_held_them(
    store: RedisDocumentStore, redis_url: str
) -> None:
    first = _write(store, "d", "v0")
    assert store.switch_live("t", "d", "v0", first, 0, NOW)[0]
    for i in range(1, HISTORY + 5):  # v0..v4 fall out of the history
        _write(store, "d", f"v{i}")
    sources = redis.Redis.from_url(redis_url).hkeys("cmem:{t:t}:doc:d:sources")
    # The live version keeps its source even out of the history (a re-index reads it).
    assert sorted(k.decode() for k in sources) == sorted(
        ["v0", *[f"v{i}" for i in range(5, HISTORY + 5)]]
    )
    assert store.source("t", "d", "v1") is None
    assert store.source("t", "d", "v0") == "text of v0"
    # Once another version is live, nothing refers to v0 any more.
    latest = HISTORY + 4
    switched, previous = store.switch_live("t", "d", f"v{latest}", latest + 1, 0, NOW)
    assert (switched, previous) == (True, "v0")
    assert store.source("t", "d", "v0") is None
    assert store.source("t", "d", f"v{latest}") == f"text of v{latest}"


def test_a_version_written_again_keeps_its_source(store: RedisDocumentStore) -> None:
    _write(store, "d", "same")
    for i in range(HISTORY - 1):
        _write(store, "d", f"v{i}")
    _write(store, "d", "same")  # the first "same" entry falls out; the new one refers to it
    assert store.source("t", "d", "same") == "text of same"


def test_sources_an_earlier_release_wrote_are_read_and_deleted(
    store: RedisDocumentStore, redis_url: str
) -> None:
    client = redis.Redis.from_url(redis_url)
    _write(store, "d", "v1")
    client.hdel("cmem:{t:t}:doc:d:sources", "v1")
    client.set("cmem:{t:t}:doc:d:source:v1", "legacy text")  # one key per version, as before
    assert store.source("t", "d", "v1") == "legacy text"
    store.delete("t", "d")
    assert not client.exists("cmem:{t:t}:doc:d:source:v1", "cmem:{t:t}:doc:d:sources")
