"""Split-brain facts over HTTP: a write based on a replaced fact is concurrent; keep_both flags
both and serves them with a marker until POST /v1/facts/{id}/resolve; PUT honours If-Match."""

from __future__ import annotations

from fastapi.testclient import TestClient

from service.runtime.container import Container
from tests.api.conftest import wait_indexed


def _post(
    api: TestClient, text: str, based_on: str | None = None, session_id: str | None = None
) -> dict:  # type: ignore[type-arg]
    body = {"user_id": "u", "text": text, "key": "user.office", "based_on": based_on}
    r = api.post("/v1/facts", json={**body, "session_id": session_id})
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_keep_both_flags_serves_with_marker_and_resolves(
    api: TestClient, container: Container
) -> None:
    svc = container.services
    svc.settings = svc.settings.model_copy(update={"fact_conflict_policy": "keep_both"})
    base = _post(api, "User works at the Lisbon office")
    mine = _post(api, "User works at the Porto office", based_on=base["id"])
    theirs = _post(api, "User works at the Faro office", based_on=base["id"])  # concurrent
    assert (mine["status"], theirs["status"]) == ("active", "conflict")
    assert theirs["conflicts_with"] == [mine["id"]]
    assert api.get(f"/v1/facts/{mine['id']}").json()["status"] == "conflict"
    api.post(
        "/v1/sessions/s/messages",
        json={"user_id": "u", "messages": [{"role": "user", "content": "which office?"}]},
    )
    wait_indexed(api, "s")
    body = {"session_id": "s", "user_id": "u", "budget_tokens": 600, "query": "user office"}
    text = str(api.post("/v1/context", json=body).json()["messages"])
    assert "Porto office (unresolved conflict" in text
    assert "Faro office (unresolved conflict" in text
    bad = api.post(f"/v1/facts/{theirs['id']}/resolve", headers={"If-Match": '"9"'})
    assert bad.status_code == 412
    r = api.post(f"/v1/facts/{theirs['id']}/resolve")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "active"
    assert api.get(f"/v1/facts/{mine['id']}").json()["status"] == "superseded"
    text = str(api.post("/v1/context", json=body).json()["messages"])
    assert "Faro office" in text
    assert "Porto office" not in text
    assert "unresolved" not in text
    again = api.post(f"/v1/facts/{theirs['id']}/resolve")
    assert again.status_code == 409  # nothing left to resolve


def test_put_updates_with_if_match(api: TestClient) -> None:
    fact = _post(api, "User works at the Lisbon office")
    r = api.put(f"/v1/facts/{fact['id']}", json={"text": "x"}, headers={"If-Match": '"5"'})
    assert r.status_code == 412
    r = api.put(
        f"/v1/facts/{fact['id']}",
        json={"text": "User works at the Braga office"},
        headers={"If-Match": '"1"'},
    )
    assert r.status_code == 200, r.text
    assert (r.json()["text"], r.headers["etag"]) == ("User works at the Braga office", '"2"')
    assert api.put("/v1/facts/nope", json={"text": "x"}).status_code == 404


def _start(api: TestClient, session_id: str, user_id: str = "u") -> None:
    r = api.post(
        f"/v1/sessions/{session_id}/messages",
        json={"user_id": user_id, "messages": [{"role": "user", "content": "where do I work?"}]},
    )
    assert r.status_code in (200, 201), r.text


def test_two_sessions_that_saw_one_version_write_concurrently(
    api: TestClient, container: Container
) -> None:
    """No `based_on`: each write is based on what its session last saw. Both sessions saw the
    Lisbon fact (one in a context, one by GET), so their writes are concurrent: keep_both
    flags them, and a session's own later write is based on its own write, not concurrent."""
    svc = container.services
    svc.settings = svc.settings.model_copy(update={"fact_conflict_policy": "keep_both"})
    base = _post(api, "User works at the Lisbon office")
    for session_id in ("a", "b"):
        _start(api, session_id)
    wait_indexed(api, "a")
    body = {"session_id": "a", "user_id": "u", "budget_tokens": 600, "query": "user office"}
    context = api.post("/v1/context", json=body).json()
    assert base["id"] in [i["id"] for i in context["items"] if i["kind"] == "fact"]
    assert api.get(f"/v1/facts/{base['id']}", params={"session_id": "b"}).status_code == 200
    theirs = _post(api, session_id="b", text="User works at the Porto office")
    mine = _post(
        api, session_id="a", text="User works at the Faro office"
    )  # its context showed Lisbon
    assert (theirs["status"], mine["status"]) == ("active", "conflict")
    assert mine["conflicts_with"] == [theirs["id"]]
    settled = api.post(f"/v1/facts/{mine['id']}/resolve")
    assert settled.status_code == 200, settled.text
    again = _post(
        api, session_id="a", text="User works at the Braga office"
    )  # a saw its own Faro fact
    assert again["status"] == "active"
    assert api.get(f"/v1/facts/{mine['id']}").json()["status"] == "superseded"


def test_lww_keeps_the_concurrent_loser_in_history(api: TestClient) -> None:
    """Default policy: the later event wins, the other is history, none is lost silently."""
    base = _post(api, "User works at the Lisbon office")
    for session_id in ("a", "b"):
        _start(api, session_id)
        assert api.get(f"/v1/facts/{base['id']}", params={"session_id": session_id}).is_success
    first = _post(api, session_id="a", text="User works at the Porto office")
    second = _post(api, session_id="b", text="User works at the Faro office")
    assert second["status"] == "active"
    listed = api.get("/v1/facts", params={"user_id": "u"}).json()["facts"]
    status = {f["id"]: f["status"] for f in listed}
    assert status[first["id"]] == "superseded"
    assert status[base["id"]] == "superseded"


def test_a_session_of_another_user_or_none_is_refused(api: TestClient) -> None:
    _start(api, "theirs", user_id="someone-else")
    body = {"user_id": "u", "text": "User works at the Lisbon office", "key": "user.office"}
    assert api.post("/v1/facts", json={**body, "session_id": "theirs"}).status_code == 409
    assert api.post("/v1/facts", json={**body, "session_id": "nope"}).status_code == 404
    fact = _post(api, "User works at the Lisbon office")
    r = api.get(f"/v1/facts/{fact['id']}", params={"session_id": "theirs"})
    assert r.status_code == 409
    search = {"user_id": "u", "query": "office", "session_id": "nope"}
    assert api.post("/v1/facts/search", json=search).status_code == 404
