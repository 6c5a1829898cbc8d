"""Forgetting a user: DELETE /v1/users/{id} leaves no record of them in Valkey or the vector
store, counts what it removed, is audited, and in-flight jobs bring nothing back."""

from __future__ import annotations

import time
from typing import Any

import orjson
import redis
from fastapi.testclient import TestClient

from service.domain.models import VectorFilter
from service.runtime.container import Container
from tests.api.conftest import wait_indexed

GONE = "zq-forget-me-81"
SECRET = "tangerine7741"  # in every text of theirs: no copy of it may survive either
KEEP = "keeper-user"


def _turns(user: str, n: int, start: int = 0) -> list[dict[str, Any]]:
    word = SECRET if user == GONE else "plum"
    return [
        {
            "id": f"{user}-{i}",
            "role": "user" if i % 2 == 0 else "assistant",
            "content": f"turn {i} about {word} and the weekend plans " + "more words " * 25,
        }
        for i in range(start, start + n)
    ]


def _fill(api: TestClient, user: str, sessions: list[str]) -> None:
    for session in sessions:
        r = api.post(
            f"/v1/sessions/{session}/messages", json={"user_id": user, "messages": _turns(user, 40)}
        )
        assert r.status_code == 201, r.text
        wait_indexed(api, session)
        ctx = {"session_id": session, "user_id": user, "query": "weekend", "budget_tokens": 600}
        assert api.post("/v1/context", json=ctx).status_code == 200  # a snapshot
    word = SECRET if user == GONE else "plum"
    for text in (f"{user} likes {word} tea", f"{user} now prefers {word} coffee"):
        r = api.post("/v1/facts", json={"user_id": user, "text": text, "key": "drink"})
        assert r.status_code == 201, r.text  # the second supersedes the first: history
    fact = api.post("/v1/facts", json={"user_id": user, "text": f"{user} owns a {word} bike"})
    deleted = api.delete(
        f"/v1/facts/{fact.json()['id']}", headers={"If-Match": fact.headers["ETag"]}
    )
    assert deleted.status_code == 204, deleted.text


def _value(client: redis.Redis, key: bytes) -> Any:
    kind = client.type(key).decode()
    if kind == "string":
        return client.get(key)
    if kind == "hash":
        return client.hgetall(key)
    if kind == "list":
        return client.lrange(key, 0, -1)
    if kind == "set":
        return client.smembers(key)
    if kind == "zset":
        return client.zrange(key, 0, -1)
    return kind


def _redis_residue(client: redis.Redis, needles: tuple[str, ...]) -> list[str]:
    found = []
    for key in client.scan_iter(count=1000):
        text = key.decode() + repr(_value(client, key))
        found += [f"{key!r}: {needle}" for needle in needles if needle in text]
    return found


def _vector_residue(container: Container, needles: tuple[str, ...]) -> list[str]:
    found = []
    offset = None
    while True:
        hits, offset = container.services.index.scroll(VectorFilter(), 256, offset)
        for hit in hits:
            text = orjson.dumps(hit.payload).decode()
            found += [f"{hit.id}: {needle} {text[:300]}" for needle in needles if needle in text]
        if offset is None:
            return found


def _drain(container: Container) -> None:
    deadline = time.monotonic() + 30
    while container.services.jobs.depth() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # the last job taken is finishing


def test_deleting_a_user_leaves_no_residue(api: TestClient, container: Container) -> None:
    _fill(api, GONE, ["g1", "g2"])
    _fill(api, KEEP, ["k1"])
    needles = (GONE, SECRET)
    assert _redis_residue(container.redis, needles)  # the scan sees them before
    assert _vector_residue(container, needles)
    # In flight: turns whose indexing jobs are queued or running while the user is deleted.
    api.post("/v1/sessions/g1/messages", json={"user_id": GONE, "messages": _turns(GONE, 30, 100)})

    r = api.delete(f"/v1/users/{GONE}")
    assert r.status_code == 200, r.text
    counts = r.json()
    assert counts["user_id"] == GONE
    assert counts["sessions"] == 2
    assert counts["messages"] == 110
    assert counts["facts"] == 3  # the active one, the superseded one and the deleted one
    assert counts["snapshots"] == 2
    assert counts["vectors"] > 0
    assert counts["cache_entries"] > 0

    _drain(container)
    assert _redis_residue(container.redis, needles) == []
    assert _vector_residue(container, needles) == []
    assert api.get("/v1/sessions/g1").status_code == 404
    assert api.get("/v1/facts", params={"user_id": GONE}).json()["facts"] == []

    # Everyone else's data stays.
    assert api.get("/v1/sessions/k1/messages").json()["total"] == 40
    assert len(api.get("/v1/facts", params={"user_id": KEEP}).json()["facts"]) == 2  # + history
    audit = container.services.audit.recent("default", 5)
    entry = next(a for a in audit if a.get("action") == "delete_user")
    assert entry["affected"]["sessions"] == 2
    assert GONE not in orjson.dumps(entry).decode()

    again = api.delete(f"/v1/users/{GONE}").json()
    assert {k: v for k, v in again.items() if k != "user_id"} == dict.fromkeys(
        ("sessions", "messages", "facts", "snapshots", "vectors", "cache_entries"), 0
    )


def test_deleting_a_user_leaves_the_usage_counters_as_deleting_their_sessions_would(
    api: TestClient,
) -> None:
    for session, user, n in (("a1", GONE, 3), ("a2", GONE, 5), ("k1", KEEP, 2)):
        r = api.post(
            f"/v1/sessions/{session}/messages", json={"user_id": user, "messages": _turns(user, n)}
        )
        assert r.status_code == 201, r.text
    before = api.get("/v1/admin/status").json()
    assert before["sessions"] == 3
    assert before["usage"]["messages"]["total"] == 10
    assert api.delete(f"/v1/users/{GONE}").status_code == 200
    after = api.get("/v1/admin/status").json()
    assert after["sessions"] == 1
    assert after["usage"]["messages"]["total"] == 2
    assert sum(after["usage"]["messages"]["buckets"].values()) == 1  # the keeper's session
    assert api.get("/v1/admin/sessions").json()["total"] == 1
    assert after["usage"]["tokens"]["total"] == api.get("/v1/sessions/k1").json()["tokens"]
