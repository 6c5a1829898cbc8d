"""Documents over HTTP: policies, no-op rewrites, cost proportional to change, jobs, delete."""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient

from service.domain.models import VectorFilter


def _doc(paragraphs: int, changed: int | None = None) -> str:
    return "\n\n".join(
        f"Section {i}. "
        + ("This paragraph was rewritten entirely. " if i == changed else "")
        + " ".join(f"The quarterly figure {i}-{j} rose by {i + j} percent." for j in range(12))
        for i in range(paragraphs)
    )


def _wait_job(api: TestClient, job_id: str) -> Any:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job = api.get(f"/v1/jobs/{job_id}").json()
        if job["state"] in ("done", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")


def test_write_through_is_live_on_return_and_rewrites_are_noops(api: TestClient) -> None:
    r = api.put("/v1/documents/d1", json={"text": _doc(5), "tags": ["finance"]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "live"
    assert body["embedded"] == body["chunks"] > 0
    doc = api.get("/v1/documents/d1").json()
    assert (doc["status"], doc["live_version"], doc["tags"]) == (
        "live",
        body["version"],
        ["finance"],
    )
    again = api.put("/v1/documents/d1", json={"text": _doc(5), "tags": ["finance"]})
    assert again.json()["status"] == "unchanged"
    assert len(api.get("/v1/documents/d1").json()["versions"]) == 1


def test_one_changed_paragraph_embeds_only_its_chunks(api: TestClient, container) -> None:  # type: ignore[no-untyped-def]
    first = api.put("/v1/documents/big", json={"text": _doc(50)}).json()
    assert first["chunks"] >= 40
    second = api.put("/v1/documents/big", json={"text": _doc(50, changed=17)}).json()
    assert second["status"] == "live"
    assert 1 <= second["embedded"] <= 2
    assert second["reused"] == second["chunks"] - second["embedded"]
    index = container.services.index
    live = VectorFilter(must={"doc_id": "big", "status": "live"})
    assert index.count(live) == second["chunks"]
    stale = VectorFilter(must={"doc_id": "big", "version": first["version"]})
    assert index.count(VectorFilter(must={**stale.must, "status": "stale"})) == first["chunks"]


def test_write_behind_serves_old_version_until_the_job_switches(api: TestClient, container) -> None:  # type: ignore[no-untyped-def]
    v1 = api.put("/v1/documents/d2", json={"text": _doc(3)}).json()["version"]
    r = api.put("/v1/documents/d2", json={"text": _doc(4), "policy": "write_behind"})
    assert r.status_code == 202
    job_id = r.json()["job_id"]
    live = container.services.documents.live("default", ["d2"])["d2"].version
    assert live in (v1, r.json()["version"])  # old until the worker switches
    job = _wait_job(api, job_id)
    assert (job["state"], job["result"]) == ("done", "live")
    assert job["counts"]["chunks"] > 0
    assert api.get("/v1/documents/d2").json()["live_version"] == r.json()["version"]


def test_invalidate_stops_serving_the_old_version_at_once(api: TestClient, container) -> None:  # type: ignore[no-untyped-def]
    api.put("/v1/documents/d3", json={"text": _doc(3)})
    container.services.index.close()  # no worker progress possible: only the marker acts
    r = api.put("/v1/documents/d3", json={"text": _doc(2), "policy": "invalidate"})
    assert r.status_code == 202
    assert container.services.documents.live("default", ["d3"])["d3"].version == ""


def test_delete_and_errors(api: TestClient, container) -> None:  # type: ignore[no-untyped-def]
    api.put("/v1/documents/d4", json={"text": _doc(2)})
    assert api.delete("/v1/documents/d4").status_code == 204
    assert api.get("/v1/documents/d4").status_code == 404
    assert container.services.index.count(VectorFilter(must={"doc_id": "d4"})) == 0
    assert api.delete("/v1/documents/d4").status_code == 404
    assert api.put("/v1/documents/d5", json={"text": "  "}).json()["error"]["field"] == "text"
    r = api.put("/v1/documents/d5", json={"text": "x", "policy": "eventually"})
    assert r.json()["error"]["field"] == "policy"
    assert api.put("/v1/documents/d5", json={"text": "x", "ttl_s": 0}).status_code == 422
    assert api.get("/v1/jobs/nope").status_code == 404


def test_list_filters_by_tag(api: TestClient) -> None:
    api.put("/v1/documents/a", json={"text": "alpha text", "tags": ["x"]})
    api.put("/v1/documents/b", json={"text": "beta text", "tags": ["y"]})
    listed = api.get("/v1/documents", params={"tag": "x"}).json()["documents"]
    assert [d["doc_id"] for d in listed] == ["a"]
    assert {d["doc_id"] for d in api.get("/v1/documents?status=live").json()["documents"]} == {
        "a",
        "b",
    }


def test_a_write_answers_with_its_status_and_only_the_fields_that_apply(api: TestClient) -> None:
    built = api.put("/v1/documents/d6", json={"text": _doc(2)})
    assert built.status_code == 200
    assert set(built.json()) == {
        "doc_id",
        "version",
        "sequence",
        "status",
        "chunks",
        "embedded",
        "reused",
    }
    same = api.put("/v1/documents/d6", json={"text": _doc(2)})
    assert same.status_code == 200
    assert same.json() == {
        "doc_id": "d6",
        "version": built.json()["version"],
        "status": "unchanged",
        "embedded": 0,
        "reused": 0,
    }
    queued = api.put("/v1/documents/d6", json={"text": _doc(3), "policy": "write_behind"})
    assert queued.status_code == 202
    body = queued.json()
    assert set(body) == {"doc_id", "version", "sequence", "status", "job_id"}
    assert (body["doc_id"], body["status"], body["sequence"]) == ("d6", "pending", 2)
