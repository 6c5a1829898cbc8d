"""Document writes that change only tags or metadata are kept; If-Match is honoured (412)."""

from __future__ import annotations

from fastapi.testclient import TestClient

TEXT = "Refunds are accepted within 30 days of purchase with the receipt."


def _ctx_chunks(api: TestClient, tags: list[str]) -> set[str]:
    body = {
        "session_id": "s",
        "user_id": "u",
        "query": "refund policy",
        "budget_tokens": 800,
        "tags": tags,
    }
    ctx = api.post("/v1/context", json=body).json()
    return {i["doc_id"] for i in ctx["items"] if i["kind"] == "chunk"}


def test_same_text_with_new_tags_and_metadata_is_kept(api: TestClient) -> None:
    first = api.put("/v1/documents/d", json={"text": TEXT, "tags": ["draft"]})
    same = api.put("/v1/documents/d", json={"text": TEXT, "tags": ["draft"]})
    assert (first.json()["status"], same.json()["status"]) == ("live", "unchanged")
    assert same.headers["etag"] == first.headers["etag"]
    relabelled = api.put(
        "/v1/documents/d", json={"text": TEXT, "tags": ["policy"], "metadata": {"owner": "ops"}}
    )
    body = relabelled.json()
    assert (body["status"], body["embedded"]) == ("updated", 0)
    assert relabelled.headers["etag"] != first.headers["etag"]
    doc = api.get("/v1/documents/d").json()
    assert (doc["tags"], doc["metadata"]) == (["policy"], {"owner": "ops"})
    assert doc["live_version"] == first.json()["version"]  # nothing rebuilt
    # Context filters on the chunks' tags: they moved with the record.
    assert _ctx_chunks(api, ["policy"]) == {"d"}
    assert _ctx_chunks(api, ["draft"]) == set()


def test_if_match_is_honoured(api: TestClient) -> None:
    etag = api.put("/v1/documents/d", json={"text": TEXT}).headers["etag"]
    assert api.get("/v1/documents/d").headers["etag"] == etag
    wrong = api.put(
        "/v1/documents/d",
        json={"text": TEXT + " Sale items excluded."},
        headers={"If-Match": '"99"'},
    )
    assert wrong.status_code == 412
    assert wrong.json()["error"]["code"] == "precondition_failed"
    assert api.get("/v1/documents/d").headers["etag"] == etag  # nothing written
    stale_tags = api.put(
        "/v1/documents/d", json={"text": TEXT, "tags": ["x"]}, headers={"If-Match": '"99"'}
    )
    assert stale_tags.status_code == 412
    right = api.put(
        "/v1/documents/d", json={"text": TEXT + " Sale items excluded."}, headers={"If-Match": etag}
    )
    assert right.status_code == 200, right.text
    assert right.headers["etag"] != etag
    # The ETag it answered with is now the only one that writes.
    assert (
        api.put("/v1/documents/d", json={"text": TEXT}, headers={"If-Match": etag}).status_code
        == 412
    )
    missing = api.put("/v1/documents/nope", json={"text": TEXT}, headers={"If-Match": "*"})
    assert missing.status_code == 412
