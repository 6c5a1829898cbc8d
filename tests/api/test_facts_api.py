"""Facts over HTTP: remember, supersede by key, merge near-duplicates, search, delete."""

from __future__ import annotations

from fastapi.testclient import TestClient


def _fact(api: TestClient, text: str, key: str | None = None, user: str = "u1"):  # type: ignore[no-untyped-def]
    return api.post("/v1/facts", json={"user_id": user, "text": text, "key": key})


def test_remember_get_list(api: TestClient) -> None:
    r = _fact(api, "User is vegetarian")
    assert r.status_code == 201
    fact = r.json()
    assert fact["status"] == "active"
    assert r.headers["etag"] == '"1"'
    assert api.get(f"/v1/facts/{fact['id']}").json()["text"] == "User is vegetarian"
    listed = api.get("/v1/facts", params={"user_id": "u1"}).json()
    assert [f["id"] for f in listed["facts"]] == [fact["id"]]


def test_same_key_supersedes_and_keeps_history(api: TestClient) -> None:
    old = _fact(api, "User lives in Lisbon", key="user.city").json()
    new = _fact(api, "User lives in Porto", key="user.city").json()
    assert api.get(f"/v1/facts/{old['id']}").json()["status"] == "superseded"
    assert api.get(f"/v1/facts/{old['id']}").json()["superseded_by"] == new["id"]
    found = api.post(
        "/v1/facts/search", json={"user_id": "u1", "query": "where does the user live", "limit": 5}
    )
    assert [f["text"] for f in found.json()["facts"]] == ["User lives in Porto"]
    statuses = {f["id"]: f["status"] for f in api.get("/v1/facts?user_id=u1").json()["facts"]}
    assert statuses == {old["id"]: "superseded", new["id"]: "active"}


def test_near_duplicate_is_merged_not_stored_twice(api: TestClient) -> None:
    first = _fact(api, "User prefers dark mode")
    second = _fact(api, "User prefers dark mode ")
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert len(api.get("/v1/facts?user_id=u1").json()["facts"]) == 1


def test_search_ranks_and_scopes_by_user(api: TestClient) -> None:
    _fact(api, "User is allergic to peanuts")
    _fact(api, "User drives a red bicycle")
    _fact(api, "User is allergic to peanuts", user="u2")
    found = api.post(
        "/v1/facts/search", json={"user_id": "u1", "query": "allergic to peanuts", "limit": 1}
    ).json()
    assert [f["text"] for f in found["facts"]] == ["User is allergic to peanuts"]
    assert found["facts"][0]["user_id"] == "u1"
    assert found["facts"][0]["score"] > 0


def test_delete_with_if_match(api: TestClient) -> None:
    fact = _fact(api, "User owns a cat").json()
    r = api.delete(f"/v1/facts/{fact['id']}", headers={"If-Match": '"7"'})
    assert r.status_code == 412
    assert r.json()["error"]["code"] == "precondition_failed"
    assert api.delete(f"/v1/facts/{fact['id']}", headers={"If-Match": '"1"'}).status_code == 204
    assert api.get(f"/v1/facts/{fact['id']}").status_code == 404
    found = api.post("/v1/facts/search", json={"user_id": "u1", "query": "cat"}).json()
    assert found["facts"] == []


def test_fact_input_errors(api: TestClient, container) -> None:  # type: ignore[no-untyped-def]
    assert _fact(api, "   ").status_code == 422
    too_long = "x" * (container.services.settings.max_fact_chars + 1)
    assert _fact(api, too_long).status_code == 413
    assert _fact(api, "ok", key="bad key").json()["error"]["field"] == "key"
    r = api.post("/v1/facts/search", json={"user_id": "u1", "query": "x", "limit": 0})
    assert r.json()["error"]["field"] == "limit"


def test_facts_that_differ_in_a_number_are_both_kept(api: TestClient) -> None:
    a = _fact(api, "User's locker number is 1234")
    b = _fact(api, "User's locker number is 1235")
    assert (a.status_code, b.status_code) == (201, 201)
    assert a.json()["id"] != b.json()["id"]
