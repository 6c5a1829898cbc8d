"""Facts in event time over HTTP: valid_from from the body, a late older statement in history,
`as_of`/`known_at` on list, search and context; search answers with cosine similarity."""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient

from tests.api.conftest import wait_indexed


def _fact(api: TestClient, text: str, key: str | None, valid_from: str | None = None) -> Any:
    body = {"user_id": "u", "text": text, "key": key, "valid_from": valid_from}
    r = api.post("/v1/facts", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def _texts(facts: list[dict[str, Any]]) -> list[str]:
    return [f["text"] for f in facts]


def test_late_older_statement_lands_in_history_and_as_of_reads_it(api: TestClient) -> None:
    lisbon = _fact(api, "User lives in Lisbon", "user.location", "2020-01-01T00:00:00Z")
    porto = _fact(api, "User lives in Porto", "user.location", "2023-06-01T00:00:00Z")
    braga = _fact(api, "User lives in Braga", "user.location", "2021-03-01T00:00:00Z")  # late
    assert braga["status"] == "superseded"
    assert (braga["valid_to"], braga["superseded_by"]) == (porto["valid_from"], porto["id"])
    assert api.get(f"/v1/facts/{porto['id']}").json()["status"] == "active"
    assert lisbon["source"] == "api"

    def listed(**params: str) -> list[str]:
        r = api.get("/v1/facts", params={"user_id": "u", **params})
        assert r.status_code == 200, r.text
        return _texts(r.json()["facts"])

    assert listed(as_of="2020-06-01T00:00:00Z") == ["User lives in Lisbon"]
    assert listed(as_of="2022-01-01T00:00:00Z") == ["User lives in Braga"]
    assert listed(as_of="2024-01-01T00:00:00Z") == ["User lives in Porto"]
    assert listed(as_of="2019-01-01T00:00:00Z") == []
    # Before Braga was recorded, 2022 was still Lisbon as far as we knew.
    assert listed(as_of="2022-01-01T00:00:00Z", known_at=lisbon["recorded_at"]) == [
        "User lives in Lisbon"
    ]

    def search(**extra: str) -> list[dict[str, Any]]:
        body = {"user_id": "u", "query": "where does the user live", "limit": 5, **extra}
        r = api.post("/v1/facts/search", json=body)
        assert r.status_code == 200, r.text
        return list(r.json()["facts"])

    [now] = search()
    assert now["text"] == "User lives in Porto"
    assert 0 < now["similarity"] <= 1  # cosine, to threshold on; score is the fused rank
    assert _texts(search(as_of="2022-01-01T00:00:00Z")) == ["User lives in Braga"]


def test_valid_from_in_the_future_is_a_422(api: TestClient) -> None:
    body = {"user_id": "u", "text": "User lives on Mars", "valid_from": "2999-01-01T00:00:00Z"}
    r = api.post("/v1/facts", json=body)
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "valid_from"


def test_context_as_of_serves_the_facts_valid_then(api: TestClient) -> None:
    _fact(api, "User is vegetarian", "user.diet", "2020-01-01T00:00:00Z")
    _fact(api, "User is vegan", "user.diet", "2024-01-01T00:00:00Z")
    api.post(
        "/v1/sessions/s/messages",
        json={"user_id": "u", "messages": [{"role": "user", "content": "what should I cook?"}]},
    )
    wait_indexed(api, "s")

    def facts(**extra: str) -> str:
        body = {"session_id": "s", "user_id": "u", "budget_tokens": 500, **extra}
        ctx = api.post("/v1/context", json={**body, "query": "diet of the user"}).json()
        return " ".join(str(m["content"]) for m in ctx["messages"])

    assert "User is vegan" in facts()
    assert "vegetarian" not in facts()
    then = facts(as_of="2022-01-01T00:00:00Z")
    assert "User is vegetarian" in then
    assert "vegan" not in then


def test_extracted_facts_show_source_and_lineage(api: TestClient) -> None:
    api.post(
        "/v1/sessions/s/messages",
        json={"user_id": "u", "messages": [{"id": "m1", "role": "user", "content": "I'm vegan."}]},
    )
    wait_indexed(api, "s")
    for _ in range(200):
        facts = api.get("/v1/facts", params={"user_id": "u"}).json()["facts"]
        if facts:
            break
        time.sleep(0.05)
    [fact] = facts
    assert (fact["key"], fact["source"], fact["lineage"]) == ("user.diet", "extracted", ["s/m1"])
    off = api.put("/v1/sessions/s2/settings", json={"user_id": "u", "extract_facts": False})
    assert off.json()["extract_facts"] is False
