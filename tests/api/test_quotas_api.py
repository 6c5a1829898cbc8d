"""Per-tenant storage quotas: a write past one is refused whole (507 quota_exceeded, saying
which quota, its limit and the usage), deleting frees quota, other tenants are unaffected."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.runtime.container import Container
from service.usecases.sessions import expire_idle_sessions


@pytest.fixture
def keys(container: Container) -> dict[str, dict[str, str]]:
    make = container.keys.create
    return {name: {"Authorization": f"Bearer {make(name, 'client')}"} for name in ("ta", "tb")}


def _serve(container: Container, **quotas: Any) -> Iterator[TestClient]:
    settings = container.services.settings.model_copy(update=quotas)
    svc = dataclasses.replace(container.services, settings=settings)
    with TestClient(create_app(svc, container.keys, container.heartbeat)) as api:
        yield api


@pytest.fixture
def limited(container: Container, keys: dict[str, dict[str, str]]) -> Iterator[TestClient]:
    """messages: 5, documents: 2 for every tenant but "tb", which is unlimited (0)."""
    yield from _serve(
        container,
        quota_messages=5,
        quota_documents=2,
        quotas={"tb": {"messages": 0, "documents": 0}},
    )


def _turns(*ids: str) -> list[dict[str, str]]:
    return [{"id": i, "role": "user", "content": f"turn {i}"} for i in ids]


def _append(api: TestClient, who: dict[str, str], session: str, *ids: str) -> Any:
    body = {"user_id": "u", "messages": _turns(*ids)}
    return api.post(f"/v1/sessions/{session}/messages", json=body, headers=who)


def _count(api: TestClient, who: dict[str, str], session: str) -> int:
    r = api.get(f"/v1/sessions/{session}", headers=who)
    return int(r.json()["message_count"]) if r.status_code == 200 else 0


def _refused(r: Any, quota: str, limit: int, used: int) -> None:
    assert r.status_code == 507, r.text
    error = r.json()["error"]
    assert error["code"] == "quota_exceeded"
    assert error["details"]["quota"] == quota
    assert error["details"]["limit"] == limit
    assert error["details"]["used"] == used
    assert quota in error["message"]
    assert str(limit) in error["message"]


def test_messages_quota_refuses_the_whole_batch_and_deletes_free_it(
    limited: TestClient, keys: dict[str, dict[str, str]]
) -> None:
    ta, tb = keys["ta"], keys["tb"]
    assert _append(limited, ta, "s1", "a", "b", "c").status_code == 201
    _refused(_append(limited, ta, "s2", "d", "e", "f"), "messages", 5, 3)
    assert _count(limited, ta, "s2") == 0  # nothing of the batch was written
    assert _append(limited, ta, "s2", "d", "e").status_code == 201  # exactly up to the limit
    _refused(_append(limited, ta, "s2", "f"), "messages", 5, 5)
    # A retried batch (all stored already) is answered as duplicates, not refused.
    again = _append(limited, ta, "s2", "d", "e")
    assert again.status_code == 201, again.text
    assert again.json()["duplicates"] == 2
    # The other tenant is unaffected (and unlimited: its override is 0).
    assert _append(limited, tb, "s1", *[f"m{i}" for i in range(12)]).status_code == 201
    # Deleting one turn frees one; deleting a session frees its turns.
    assert limited.delete("/v1/sessions/s2/messages/d", headers=ta).status_code == 204
    assert _append(limited, ta, "s3", "g").status_code == 201
    _refused(_append(limited, ta, "s3", "h"), "messages", 5, 5)
    assert limited.delete("/v1/sessions/s1", headers=ta).status_code == 204
    assert _append(limited, ta, "s3", "h", "i", "j").status_code == 201
    _refused(_append(limited, ta, "s3", "k"), "messages", 5, 5)


def test_deleting_a_user_frees_their_turns(
    limited: TestClient, keys: dict[str, dict[str, str]]
) -> None:
    ta = keys["ta"]
    assert _append(limited, ta, "s1", "a", "b", "c", "d", "e").status_code == 201
    _refused(_append(limited, ta, "s2", "f"), "messages", 5, 5)
    assert limited.delete("/v1/users/u", headers=ta).status_code == 200
    assert _append(limited, ta, "s2", "f", "g", "h", "i", "j").status_code == 201


def test_session_expiry_frees_its_turns(container: Container) -> None:
    settings = container.services.settings.model_copy(
        update={"quota_messages": 2, "session_ttl_s": 1}
    )
    svc = dataclasses.replace(container.services, settings=settings)
    with TestClient(create_app(svc, container.keys, container.heartbeat)) as api:
        assert _append(api, {}, "old", "a", "b").status_code == 201
        _refused(_append(api, {}, "new", "c"), "messages", 2, 2)
        later = dataclasses.replace(svc, clock=lambda: svc.clock() + timedelta(seconds=5))
        expired = expire_idle_sessions(later)
        assert expired == 1
        assert _append(api, {}, "new", "c", "d").status_code == 201


def test_documents_quota_counts_documents_not_revisions(
    limited: TestClient, keys: dict[str, dict[str, str]]
) -> None:
    ta, tb = keys["ta"], keys["tb"]
    for doc in ("d1", "d2"):
        r = limited.put(f"/v1/documents/{doc}", json={"text": f"{doc} text"}, headers=ta)
        assert r.status_code in (200, 201, 202), r.text
    _refused(limited.put("/v1/documents/d3", json={"text": "three"}, headers=ta), "documents", 2, 2)
    assert limited.get("/v1/documents/d3", headers=ta).status_code == 404  # nothing stored
    # A new version of a stored document is no new document.
    r = limited.put("/v1/documents/d1", json={"text": "d1 text, revised"}, headers=ta)
    assert r.status_code in (200, 201, 202), r.text
    for doc in ("x1", "x2", "x3"):  # another tenant (unlimited by its override)
        r = limited.put(f"/v1/documents/{doc}", json={"text": "other"}, headers=tb)
        assert r.status_code in (200, 201, 202), r.text
    assert limited.delete("/v1/documents/d1", headers=ta).status_code == 204
    r = limited.put("/v1/documents/d3", json={"text": "three"}, headers=ta)
    assert r.status_code in (200, 201, 202), r.text


def test_snapshot_bytes_bound_one_snapshot(
    container: Container, keys: dict[str, dict[str, str]]
) -> None:
    ta, tb = keys["ta"], keys["tb"]
    served = _serve(container, quota_snapshot_bytes=300, quotas={"tb": {"snapshot_bytes": 0}})
    api = next(served)
    for who in (ta, tb):
        assert _append(api, who, "s", *[f"m{i}" for i in range(6)]).status_code == 201
    body = {"session_id": "s", "user_id": "u", "budget_tokens": 500, "query": "turn"}
    r = api.post("/v1/context", json=body, headers=ta)
    assert r.status_code == 507, r.text
    error = r.json()["error"]
    assert error["code"] == "quota_exceeded"
    assert error["details"]["quota"] == "snapshot_bytes"
    assert error["details"]["limit"] == 300
    assert error["details"]["requested"] > 300
    assert container.services.snapshots.list_for_session("ta", "s", 10) == []  # none kept
    ok = api.post("/v1/context", json=body, headers=tb)
    assert ok.status_code == 200, ok.text
    assert api.get(f"/v1/snapshots/{ok.json()['snapshot_id']}", headers=tb).status_code == 200
    served.close()


def test_zero_is_unlimited(container: Container, keys: dict[str, dict[str, str]]) -> None:
    for api in _serve(container):  # the defaults: every quota 0
        ids = [f"m{i}" for i in range(60)]
        assert _append(api, keys["ta"], "s", *ids).status_code == 201
        for n in range(5):
            r = api.put(f"/v1/documents/d{n}", json={"text": "x"}, headers=keys["ta"])
            assert r.status_code in (200, 201, 202), r.text


def _fact(api: TestClient, who: dict[str, str], text: str, **more: Any) -> Any:
    return api.post("/v1/facts", json={"user_id": "u", "text": text, **more}, headers=who)


def _current(api: TestClient, who: dict[str, str], user: str = "u") -> list[str]:
    listed = api.get("/v1/facts", params={"user_id": user}, headers=who).json()["facts"]
    return sorted(f["text"] for f in listed if f["status"] in ("active", "conflict"))


def test_facts_quota_counts_current_facts_and_supersession_is_free(
    container: Container, keys: dict[str, dict[str, str]]
) -> None:
    ta, tb = keys["ta"], keys["tb"]
    for api in _serve(container, quota_facts=2, quotas={"tb": {"facts": 0}}):
        assert _fact(api, ta, "User owns a red bicycle").status_code == 201
        assert _fact(api, ta, "User lives in Porto", key="city").status_code == 201
        _refused(_fact(api, ta, "User plays the cello every Sunday"), "facts", 2, 2)
        assert _current(api, ta) == ["User lives in Porto", "User owns a red bicycle"]
        hits = api.post(
            "/v1/facts/search", json={"user_id": "u", "query": "cello sunday"}, headers=ta
        ).json()["facts"]
        assert "User plays the cello every Sunday" not in [h["text"] for h in hits]
        # Every user of the tenant counts.
        r = api.post("/v1/facts", json={"user_id": "v", "text": "User is a pilot"}, headers=ta)
        _refused(r, "facts", 2, 2)
        # A new statement on a key with a current fact supersedes it: no growth, not refused.
        moved = _fact(api, ta, "User lives in Lisbon now", key="city")
        assert moved.status_code == 201, moved.text
        assert _current(api, ta) == ["User lives in Lisbon now", "User owns a red bicycle"]
        # The other tenant is unlimited by its override.
        for n in range(3):
            assert _fact(api, tb, f"User collects stamp series {n} {'x' * n}").status_code == 201
        # Deleting a fact frees its place.
        [bike] = [
            f
            for f in api.get("/v1/facts", params={"user_id": "u"}, headers=ta).json()["facts"]
            if f["text"] == "User owns a red bicycle"
        ]
        assert api.delete(f"/v1/facts/{bike['id']}", headers=ta).status_code == 204
        assert _fact(api, ta, "User plays the cello every Sunday").status_code == 201
        _refused(_fact(api, ta, "User speaks Finnish"), "facts", 2, 2)
        # Forgetting the user frees all of theirs.
        assert api.delete("/v1/users/u", headers=ta).status_code == 200
        assert _fact(api, ta, "User speaks Finnish").status_code == 201


def test_a_conflict_kept_beside_the_current_fact_counts(
    container: Container, keys: dict[str, dict[str, str]]
) -> None:
    ta = keys["ta"]
    for api in _serve(container, quota_facts=1, fact_conflict_policy="keep_both"):
        first = _fact(api, ta, "User prefers tea", key="drink")
        assert first.status_code == 201
        # A concurrent write (based on another fact) would keep both: one more current fact.
        _refused(
            _fact(api, ta, "User prefers coffee", key="drink", based_on="other"), "facts", 1, 1
        )
        assert _current(api, ta) == ["User prefers tea"]
        # Written on the current one, it supersedes: allowed.
        based = first.json()["id"]
        assert _fact(api, ta, "User prefers coffee", key="drink", based_on=based).status_code == 201
        assert _current(api, ta) == ["User prefers coffee"]
