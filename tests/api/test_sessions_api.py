"""Sessions over HTTP: append, idempotency, background indexing, paging, state, delete."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import wait_indexed


def _turns(n: int, start: int = 0) -> list[dict[str, str]]:
    return [
        {
            "id": f"m{i}",
            "role": "user" if i % 2 == 0 else "assistant",
            "content": f"turn number {i}",
        }
        for i in range(start, start + n)
    ]


def test_append_is_idempotent_and_indexed_in_background(api: TestClient) -> None:
    r = api.post("/v1/sessions/s1/messages", json={"user_id": "u1", "messages": _turns(4)})
    assert r.status_code == 201
    assert r.json() == {
        "session_id": "s1",
        "appended": 4,
        "duplicates": 0,
        "message_ids": ["m0", "m1", "m2", "m3"],
    }
    again = api.post("/v1/sessions/s1/messages", json={"user_id": "u1", "messages": _turns(5)})
    assert again.json()["appended"] == 1
    assert again.json()["duplicates"] == 4
    body = wait_indexed(api, "s1")
    assert body["messages"] == 5
    assert body["indexed"] == 5
    assert body["user_id"] == "u1"
    assert body["tokens"] > 0


def test_generated_ids_and_tool_messages(api: TestClient) -> None:
    msgs = [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "lookup", "arguments": "{}"},
                }
            ],
        },
        {"role": "tool", "content": "42", "tool_call_id": "call_1"},
    ]
    r = api.post("/v1/sessions/s2/messages", json={"user_id": "u1", "messages": msgs})
    assert r.status_code == 201
    ids = r.json()["message_ids"]
    assert len(ids) == 2
    assert ids[0] != ids[1]
    page = api.get("/v1/sessions/s2/messages").json()
    assert page["messages"][0]["tool_calls"][0]["id"] == "call_1"
    assert page["messages"][1]["tool_call_id"] == "call_1"


def test_messages_are_paginated_in_order(api: TestClient) -> None:
    api.post("/v1/sessions/s3/messages", json={"user_id": "u1", "messages": _turns(12)})
    page = api.get("/v1/sessions/s3/messages", params={"offset": 5, "limit": 4}).json()
    assert page["total"] == 12
    assert [m["id"] for m in page["messages"]] == ["m5", "m6", "m7", "m8"]
    assert [m["seq"] for m in page["messages"]] == [5, 6, 7, 8]


def test_state_roundtrip(api: TestClient) -> None:
    assert api.get("/v1/sessions/s4/state").json() == {"state": {}, "version": 0}
    r = api.put("/v1/sessions/s4/state", json={"state": {"step": "checkout", "items": 3}})
    assert r.status_code == 200
    assert api.get("/v1/sessions/s4/state").json()["state"] == {"step": "checkout", "items": 3}


def test_delete_removes_session_and_its_vectors(api: TestClient, container) -> None:  # type: ignore[no-untyped-def]
    from service.domain.models import VectorFilter

    api.post("/v1/sessions/s5/messages", json={"user_id": "u1", "messages": _turns(3)})
    wait_indexed(api, "s5")
    index = container.services.index
    where = VectorFilter(must={"session_id": "s5"})
    assert index.count(where) == 3
    assert api.delete("/v1/sessions/s5").status_code == 204
    assert api.get("/v1/sessions/s5").status_code == 404
    assert index.count(where) == 0
    assert api.delete("/v1/sessions/s5").status_code == 404


def test_delete_removes_state_only_sessions_and_snapshots(api: TestClient) -> None:
    api.put("/v1/sessions/only-state/state", json={"state": {"secret": "hunter2"}})
    assert api.delete("/v1/sessions/only-state").status_code == 204
    assert api.get("/v1/sessions/only-state/state").json() == {"state": {}, "version": 0}
    assert api.get("/v1/sessions/only-state/state/versions").json()["versions"] == []
    api.post(
        "/v1/sessions/s6/messages",
        json={"user_id": "u1", "messages": [{"role": "user", "content": "my password is hunter2"}]},
    )
    snap = api.post(
        "/v1/context", json={"session_id": "s6", "user_id": "u1", "budget_tokens": 100}
    ).json()["snapshot_id"]
    assert api.get(f"/v1/snapshots/{snap}").status_code == 200
    assert api.delete("/v1/sessions/s6").status_code == 204
    assert api.get(f"/v1/snapshots/{snap}").status_code == 404


def test_slow_cleanup_spares_a_recreated_session(api: TestClient, container) -> None:  # type: ignore[no-untyped-def]
    from service.domain.models import VectorFilter

    svc = container.services
    api.post("/v1/sessions/s7/messages", json={"user_id": "u1", "messages": _turns(2)})
    wait_indexed(api, "s7")
    epoch, _ = svc.sessions.delete("default", "s7")  # tombstone; vector cleanup still to come
    api.post("/v1/sessions/s7/messages", json={"user_id": "u1", "messages": _turns(1, 10)})
    wait_indexed(api, "s7")
    # The first delete's cleanup lands late:
    svc.index.delete(
        VectorFilter(must={"tenant": "default", "session_id": "s7"}, below={"epoch": epoch})
    )
    assert svc.index.count(VectorFilter(must={"session_id": "s7"})) == 1


def test_session_fidelity_is_set_per_session(api: TestClient) -> None:
    r = api.put("/v1/sessions/s9/settings", json={"user_id": "u1", "fidelity": "full"})
    assert r.status_code == 200
    body = r.json()
    assert body["fidelity"] == "full"
    assert body["messages"] == 0
    assert body["trimmed"] == 0
    assert body["summary"] is None
    assert api.get("/v1/sessions/s9").json()["fidelity"] == "full"
    bad = api.put("/v1/sessions/s9/settings", json={"user_id": "u1", "fidelity": "lossy"})
    assert bad.status_code == 422
    assert "fidelity" in bad.text
    other = api.put("/v1/sessions/s9/settings", json={"user_id": "u2", "fidelity": "compact"})
    assert other.status_code == 409
    api.post("/v1/sessions/s8/messages", json={"user_id": "u1", "messages": _turns(2)})
    assert api.get("/v1/sessions/s8").json()["fidelity"] == "balanced"  # the configured default
    page = api.get("/v1/sessions/s8/messages").json()
    assert page["trimmed"] == 0


def test_delete_one_message(api: TestClient) -> None:
    api.post("/v1/sessions/s7/messages", json={"user_id": "u1", "messages": _turns(3)})
    wait_indexed(api, "s7")
    ids = [m["id"] for m in api.get("/v1/sessions/s7/messages").json()["messages"]]
    assert api.delete(f"/v1/sessions/s7/messages/{ids[1]}").status_code == 204
    left = [m["id"] for m in api.get("/v1/sessions/s7/messages").json()["messages"]]
    assert left == [ids[0], ids[2]]
    assert api.delete("/v1/sessions/s7/messages/nope").status_code == 404
    assert api.delete("/v1/sessions/nope/messages/x").status_code == 404


def test_strict_append_is_not_acknowledged_without_fsync(api: TestClient) -> None:
    """The test Valkey has no AOF: a strict write cannot be confirmed on disk, so it is not
    acknowledged (503); a default one is (201). (tests/e2e/test_durability_crash.py: strict
    over an AOF loses nothing across SIGKILLs.)"""
    body = {"user_id": "u", "messages": [{"id": "m1", "role": "user", "content": "hi"}]}
    strict = api.post("/v1/sessions/d/messages?durability=strict", json=body)
    assert strict.status_code == 503, strict.text
    assert "WAITAOF" in strict.json()["error"]["message"]
    assert api.post("/v1/sessions/d/messages?durability=default", json=body).status_code == 201
    bad = api.post("/v1/sessions/d/messages?durability=always", json=body)
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "durability"
