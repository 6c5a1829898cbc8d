"""Working memory with versions over HTTP: ETag and If-Match (412), retained versions listed and
restored, another user's session is 409."""

from __future__ import annotations

from fastapi.testclient import TestClient

from service.runtime.container import Container


def test_versions_etag_if_match_and_restore(api: TestClient, container: Container) -> None:
    svc = container.services
    svc.settings = svc.settings.model_copy(update={"state_versions_kept": 3})
    url = "/v1/sessions/s/state"
    first = api.put(url, json={"state": {"step": "cart"}, "user_id": "u"})
    assert (first.status_code, first.headers["etag"], first.json()["version"]) == (200, '"1"', 1)
    second = api.put(url, json={"state": {"step": "pay"}}, headers={"If-Match": '"1"'})
    assert second.headers["etag"] == '"2"'
    stale = api.put(url, json={"state": {"step": "lost"}}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    assert api.get(url).json() == {"state": {"step": "pay"}, "version": 2}
    assert api.get(url).headers["etag"] == '"2"'
    for step in ("ship", "done"):
        api.put(url, json={"state": {"step": step}})
    versions = api.get(f"{url}/versions").json()["versions"]
    assert [(v["version"], v["state"]["step"]) for v in versions] == [
        (4, "done"),
        (3, "ship"),
        (2, "pay"),
    ]  # bounded by state_versions_kept
    r = api.post(f"{url}/restore", json={"version": 2}, headers={"If-Match": '"4"'})
    assert r.status_code == 200, r.text
    assert (r.json(), r.headers["etag"]) == ({"state": {"step": "pay"}, "version": 5}, '"5"')
    assert api.get(url).json()["state"] == {"step": "pay"}
    gone = api.post(f"{url}/restore", json={"version": 1})
    assert gone.status_code == 404
    late = api.post(f"{url}/restore", json={"version": 3}, headers={"If-Match": '"4"'})
    assert late.status_code == 412


def test_state_of_another_users_session_is_409(api: TestClient) -> None:
    api.post(
        "/v1/sessions/s/messages",
        json={"user_id": "alice", "messages": [{"role": "user", "content": "hi"}]},
    )
    r = api.put("/v1/sessions/s/state", json={"state": {"x": 1}, "user_id": "mallory"})
    assert r.status_code == 409
    assert r.json()["error"]["field"] == "user_id"
    assert api.get("/v1/sessions/s/state").json()["state"] == {}
    ok = api.put("/v1/sessions/s/state", json={"state": {"x": 1}, "user_id": "alice"})
    assert ok.status_code == 200
