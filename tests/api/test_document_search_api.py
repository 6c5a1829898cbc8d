"""POST /v1/documents/search: live versions only, best first, filtered by tags and ids."""

from __future__ import annotations

from fastapi.testclient import TestClient


def _put(api: TestClient, doc_id: str, text: str, tags: list[str]) -> None:
    r = api.put(f"/v1/documents/{doc_id}", json={"text": text, "tags": tags})
    assert r.status_code == 200, r.text


def test_search_serves_live_chunks_best_first(api: TestClient) -> None:
    _put(api, "lobby", "The hotel lobby opens at 7 in the morning.", ["hotel"])
    _put(api, "pool", "The swimming pool closes at 22.", ["hotel"])
    _put(api, "menu", "The restaurant serves vegetarian lasagna.", ["food"])
    r = api.post("/v1/documents/search", json={"query": "when does the lobby open?", "limit": 2})
    assert r.status_code == 200, r.text
    chunks = r.json()["chunks"]
    assert chunks[0]["doc_id"] == "lobby"
    assert chunks[0]["text"] == "The hotel lobby opens at 7 in the morning."
    assert len(chunks) == 2
    assert chunks[0]["score"] >= chunks[1]["score"]

    tagged = api.post("/v1/documents/search", json={"query": "lobby", "tags": ["food"]}).json()
    assert [c["doc_id"] for c in tagged["chunks"]] == ["menu"]

    _put(api, "lobby", "The hotel lobby now opens at 6.", ["hotel"])  # a new live version
    again = api.post("/v1/documents/search", json={"query": "lobby opens", "doc_ids": ["lobby"]})
    assert [c["text"] for c in again.json()["chunks"]] == ["The hotel lobby now opens at 6."]


def test_search_needs_a_query(api: TestClient) -> None:
    r = api.post("/v1/documents/search", json={"query": "  "})
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "query"
