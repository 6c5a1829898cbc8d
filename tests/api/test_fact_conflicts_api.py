"""Split-brain facts over HTTP: a write based on a replaced fact is concurrent; keep_both flags
both and serves them with a marker until POST /v1/facts/{id}/resolve; PUT honours If-Match."""

from __future__ import annotations

from fastapi.testclient import TestClient

from service.runtime.container import Container
from tests.api.conftest import wait_indexed


def _post(api: TestClient, text: str, based_on: str | None = None) -> dict:  # type: ignore[type-arg]
    body = {"user_id": "u", "text": text, "key": "user.office", "based_on": based_on}
    r = api.post("/v1/facts", json=body)
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
