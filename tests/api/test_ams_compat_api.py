"""The Agent Memory Server routes in-process: their error shape, our keys (Basic too), a PUT
that replaces turns, memories under the client's ids (unique per tenant)."""

from __future__ import annotations

import base64

import pytest
from fastapi.testclient import TestClient

from service.runtime.container import Container
from service.usecases import client_facts


@pytest.fixture
def keys(container: Container) -> dict[str, str]:
    return {name: container.keys.create(name, "client") for name in ("ta", "tb")}


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"app:{key}".encode()).decode()}


def turn(mid: str, content: str, role: str = "user") -> dict[str, str]:
    return {"id": mid, "role": role, "content": content}


def test_errors_answer_in_ams_shape_and_ours_stay_ours(
    api: TestClient, keys: dict[str, str]
) -> None:
    r = api.get("/v1/working-memory/")
    assert (r.status_code, r.json()) == (
        401,
        {"detail": "missing API key: send Authorization: Bearer <key>"},
    )
    assert api.get("/v1/working-memory/", headers=basic("cmem_wrong")).status_code == 401
    assert api.get("/v1/health").status_code == 200  # AMS's probe needs no key
    headers = basic(keys["ta"])
    missing = api.get("/v1/working-memory/nope", headers=headers)
    assert missing.status_code == 404
    assert missing.json() == {"detail": "session 'nope' not found"}
    bad = api.put("/v1/working-memory/s", json={"messages": "x"}, headers=headers)
    assert bad.status_code == 422
    assert bad.json()["detail"].startswith("messages: ")
    empty = api.put("/v1/working-memory/s", json={"messages": [turn("m1", "")]}, headers=headers)
    assert empty.status_code == 422
    assert "content" in empty.json()["detail"]
    ours = api.get("/v1/sessions/nope", headers={"X-API-Key": keys["ta"]})
    assert ours.json()["error"]["code"] == "not_found"


def test_a_put_replaces_the_turns_and_the_data(api: TestClient, keys: dict[str, str]) -> None:
    headers = basic(keys["ta"])
    body = {"messages": [turn("m1", "hi"), turn("m2", "hello", "assistant")], "data": {"a": 1}}
    first = api.put("/v1/working-memory/s?user_id=ana", json=body, headers=headers).json()
    assert (first["new_session"], first["user_id"], first["data"]) == (True, "ana", {"a": 1})
    assert [m["id"] for m in first["messages"]] == ["m1", "m2"]
    body = {"messages": [turn("m2", "changed?", "assistant"), turn("m3", "again")], "data": {}}
    second = api.put("/v1/working-memory/s", json=body, headers=headers).json()
    assert second["new_session"] is False
    assert second["user_id"] == "ana"  # the session's owner when the PUT names none
    # m1 deleted, m2 kept as stored (turns are immutable), m3 appended; data replaced.
    assert [(m["id"], m["content"]) for m in second["messages"]] == [
        ("m2", "hello"),
        ("m3", "again"),
    ]
    assert second["data"] == {}
    bearer = {"Authorization": f"Bearer {keys['ta']}"}  # our own routes: Bearer or X-API-Key
    log = api.get("/v1/sessions/s/messages", headers=bearer).json()
    assert [m["id"] for m in log["messages"]] == ["m2", "m3"]
    assert api.get("/v1/sessions/s/state", headers=bearer).json()["state"] == {}
    other = api.put("/v1/working-memory/s?user_id=bo", json=body, headers=headers)
    assert other.status_code == 409
    assert other.json()["detail"].startswith("user_id: session 's' belongs to another user")
    assert api.get("/v1/working-memory/s?user_id=bo", headers=headers).status_code == 404
    # Another tenant: none of it.
    assert api.get("/v1/working-memory/s", headers=basic(keys["tb"])).status_code == 404
    assert api.get("/v1/working-memory/", headers=basic(keys["tb"])).json()["total"] == 0


def test_namespaces_are_part_of_the_session(api: TestClient, keys: dict[str, str]) -> None:
    headers = basic(keys["ta"])
    for namespace in ("a", "b"):
        body = {"messages": [turn("m1", f"in {namespace}")], "namespace": namespace}
        assert api.put("/v1/working-memory/s", json=body, headers=headers).status_code == 200
    one = api.get("/v1/working-memory/s?namespace=b", headers=headers).json()
    assert [m["content"] for m in one["messages"]] == ["in b"]
    assert api.get("/v1/working-memory/?namespace=a", headers=headers).json() == {
        "sessions": ["s"],
        "total": 1,
    }
    listed = api.get("/v1/working-memory/", headers=headers).json()["sessions"]
    assert sorted(listed) == ["a:s", "b:s"]


def test_client_ids_name_one_fact_per_tenant(container: Container) -> None:
    svc = container.services
    made = client_facts.remember_client_fact(svc, "ta", "c1", "ana", "Ana likes tea", {})
    assert made.external_id == "c1"
    again = client_facts.remember_client_fact(svc, "ta", "c1", "ana", "Ana likes green tea", {})
    assert (again.id, again.text, again.version) == (made.id, "Ana likes green tea", 2)
    # A near-duplicate under another id merges: both ids name the one fact.
    twin = client_facts.remember_client_fact(svc, "ta", "c2", "ana", "Ana likes green tea", {})
    assert twin.id == made.id
    assert client_facts.client_fact(svc, "ta", "c2").id == made.id
    elsewhere = client_facts.remember_client_fact(svc, "tb", "c1", "ana", "Bo likes coffee", {})
    assert elsewhere.id != made.id
    assert client_facts.client_fact(svc, "tb", "c1").text == "Bo likes coffee"
    edited = client_facts.edit_client_fact(svc, "ta", "c1", metadata={"topics": ["drinks"]})
    assert (edited.text, edited.metadata) == ("Ana likes green tea", {"topics": ["drinks"]})
    assert client_facts.forget_client_facts(svc, "ta", ["c1", "nope"]) == 1
    kept = svc.facts.get("ta", made.id)  # the record stays, as history
    assert kept is not None
    assert kept.status == "deleted"
    with pytest.raises(client_facts.NotFound):
        client_facts.client_fact(svc, "ta", "c1")
    # The freed id can name a new memory.
    fresh = client_facts.remember_client_fact(svc, "ta", "c1", "ana", "Ana rides a bike", {})
    assert fresh.id != made.id
    assert client_facts.client_fact(svc, "ta", "c1").text == "Ana rides a bike"


def test_facts_of_our_own_api_read_as_memories(api: TestClient, keys: dict[str, str]) -> None:
    """A fact written through /v1/facts (no client id, any metadata) is found, read, edited
    and deleted through the AMS routes by our id; metadata that fits no AMS field is left out."""
    ours = {"X-API-Key": keys["ta"]}
    odd = {"topics": "not a list", "memory_type": "weird", "event_date": 7, "namespace": "n"}
    body = {"user_id": "ana", "text": "Ana keeps bees", "metadata": odd}
    fact = api.post("/v1/facts", json=body, headers=ours).json()
    headers = basic(keys["ta"])
    search = {"text": "bees", "user_id": {"eq": "ana"}}
    found = api.post("/v1/long-term-memory/search", json=search, headers=headers).json()
    assert [(m["id"], m["topics"], m["memory_type"]) for m in found["memories"]] == [
        (fact["id"], None, "semantic")
    ]
    assert found["memories"][0]["namespace"] == "n"
    got = api.get(f"/v1/long-term-memory/{fact['id']}", headers=headers).json()
    assert (got["text"], got["user_id"], got["event_date"]) == ("Ana keeps bees", "ana", None)
    edited = api.patch(
        f"/v1/long-term-memory/{fact['id']}", json={"topics": ["hobby"]}, headers=headers
    )
    assert edited.json()["topics"] == ["hobby"]
    gone = api.delete(f"/v1/long-term-memory?memory_ids={fact['id']}", headers=headers)
    assert gone.json() == {"status": "ok, deleted 1 memories"}
    assert api.get(f"/v1/facts/{fact['id']}", headers=ours).status_code == 404
    # Deleting a session that is not there is "ok", as AMS answers.
    assert api.delete("/v1/working-memory/never", headers=headers).json() == {"status": "ok"}
