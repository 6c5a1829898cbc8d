"""Replayable snapshots: a snapshot verifies (same hash) when nothing changed; each kind of
change since is named (superseded, deleted, suspect, stale version)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.conftest import wait_indexed

TURNS = [
    {"id": "t1", "role": "user", "content": "Planning the garden: tomatoes by the fence."},
    {"id": "t2", "role": "assistant", "content": "Tomatoes like sun; the fence side works."},
    {"id": "t3", "role": "user", "content": "And what about the refund policy for seeds?"},
]
POLICY = "Seed refunds are accepted within 30 days of purchase with the receipt."


def _context(api: TestClient) -> dict[str, Any]:
    body = {"session_id": "s", "user_id": "u", "budget_tokens": 900, "query": "garden seeds"}
    r = api.post("/v1/context", json=body)
    assert r.status_code == 200, r.text
    return dict(r.json())


def _verify(api: TestClient, snapshot_id: str) -> dict[str, Any]:
    r = api.post(f"/v1/snapshots/{snapshot_id}/verify")
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_snapshot_verifies_and_names_each_change(api: TestClient) -> None:
    api.put("/v1/sessions/s/settings", json={"user_id": "u", "extract_facts": False})
    api.post("/v1/sessions/s/messages", json={"user_id": "u", "messages": TURNS})
    wait_indexed(api, "s")
    api.put("/v1/documents/seeds", json={"text": POLICY})
    fact = api.post(
        "/v1/facts", json={"user_id": "u", "text": "User grows tomatoes", "key": "user.crop"}
    ).json()
    gone = api.post("/v1/facts", json={"user_id": "u", "text": "User owns a seed drill"}).json()
    ctx = _context(api)
    kinds = {i["kind"] for i in ctx["items"]}
    assert {"fact", "chunk", "message"} <= kinds
    first = _verify(api, ctx["snapshot_id"])
    assert first["verified"] is True, first
    assert (first["differences"], first["changed_since"]) == ([], [])

    # Changes: a fact superseded, another deleted, the document replaced, a turn deleted.
    api.post("/v1/facts", json={"user_id": "u", "text": "User grows peppers", "key": "user.crop"})
    api.delete(f"/v1/facts/{gone['id']}")
    api.put("/v1/documents/seeds", json={"text": POLICY.replace("30", "45")})
    assert api.delete("/v1/sessions/s/messages/t1").status_code == 204
    after = _verify(api, ctx["snapshot_id"])
    assert after["verified"] is False
    reasons = {(d["kind"], d["id"]): d["reason"] for d in after["changed_since"]}
    assert reasons[("fact", fact["id"])] == "superseded"
    assert reasons[("fact", gone["id"])] == "deleted"
    assert reasons[("message", "t1")] == "deleted"
    assert [r for (kind, _), r in reasons.items() if kind == "chunk"] == ["stale_version"]
    diff = {(d["change"], d["kind"], d["id"], d["reason"]) for d in after["differences"]}
    assert ("removed", "message", "t1", "deleted") in diff  # cannot be replayed: it is gone
    assert ("removed", "fact", gone["id"], "deleted") in diff
    assert ("removed", "chunk", "seeds#0", "stale_version") in diff  # the old version
    assert ("added", "chunk", "seeds#0", "new") in diff  # serves in its place
    assert not [d for d in diff if d[2] == fact["id"]]  # history replays it as recorded then
    assert api.post("/v1/snapshots/nope/verify").status_code == 404
