"""Document chunks in /v1/context: only live, unexpired versions are ever served."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.adapters.edge_index import EdgeIndex
from service.adapters.tiktoken_tokenizer import TiktokenTokenizer
from service.api.app import create_app
from service.runtime.container import Container, build_container
from service.settings import Settings
from service.usecases import documents
from service.usecases.context import ContextRequest, assemble_context
from service.usecases.documents import ingest_document

POLICY = "The refund window for hardware orders is 30 days from delivery."
NEW_POLICY = "The refund window for hardware orders is 45 days from delivery."
FILLER = "\n\n".join(f"Office note {i}: the printer on floor {i} needs toner." for i in range(8))


def _ctx(api: TestClient, **extra: object) -> dict:  # type: ignore[type-arg]
    body = {
        "session_id": "s",
        "user_id": "u",
        "budget_tokens": 800,
        "query": "how long is the refund window for hardware?",
        **extra,
    }
    r = api.post("/v1/context", json=body)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def _chunks(ctx: dict) -> list[dict]:  # type: ignore[type-arg]
    return [i for i in ctx["items"] if i["kind"] == "chunk"]


def test_live_chunks_are_retrieved_with_their_version(api: TestClient) -> None:
    put = api.put(
        "/v1/documents/refunds", json={"text": POLICY + "\n\n" + FILLER, "tags": ["policy"]}
    ).json()
    ctx = _ctx(api)
    chunks = _chunks(ctx)
    assert chunks
    assert chunks[0]["component"] == "retrieved"
    assert (chunks[0]["doc_id"], chunks[0]["version"]) == ("refunds", put["version"])
    assert "30 days" in str(ctx["messages"])
    assert ctx["usage"]["by_component"]["retrieved"] > 0


def test_no_chunk_of_an_old_version_after_the_switch(api: TestClient) -> None:
    old = api.put("/v1/documents/refunds", json={"text": POLICY + "\n\n" + FILLER}).json()
    new = api.put("/v1/documents/refunds", json={"text": NEW_POLICY + "\n\n" + FILLER}).json()
    ctx = _ctx(api)
    assert {c["version"] for c in _chunks(ctx)} == {new["version"]}
    assert "30 days" not in str(ctx["messages"])
    assert "45 days" in str(ctx["messages"])
    assert all(
        e["reason"] == "stale" for e in ctx["excluded"] if e.get("version") == old["version"]
    )


def test_filters_by_tag_and_document(api: TestClient) -> None:
    api.put("/v1/documents/refunds", json={"text": POLICY, "tags": ["policy"]})
    api.put("/v1/documents/notes", json={"text": FILLER, "tags": ["office"]})
    assert {c["doc_id"] for c in _chunks(_ctx(api, tags=["office"]))} == {"notes"}
    assert {c["doc_id"] for c in _chunks(_ctx(api, doc_ids=["refunds"]))} == {"refunds"}
    assert _chunks(_ctx(api, tags=["nothing"])) == []


def test_expired_chunks_are_excluded(api: TestClient, container: Container) -> None:
    api.put("/v1/documents/promo", json={"text": POLICY, "ttl_s": 60})
    assert _chunks(_ctx(api))
    svc = container.services
    later = svc.clock() + timedelta(seconds=61)
    container.services = dataclasses.replace(svc, clock=lambda: later)
    api.app.state.services = container.services  # type: ignore[attr-defined]
    ctx = _ctx(api)
    assert _chunks(ctx) == []
    assert any(e["reason"] == "expired" for e in ctx["excluded"])


@pytest.fixture
def no_worker_api(container: Container) -> Iterator[TestClient]:
    app = create_app(container.services, container.keys, container.heartbeat)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_invalidate_is_in_effect_when_the_call_returns(no_worker_api: TestClient) -> None:
    api = no_worker_api  # no worker: the new version cannot be built, only the marker acts
    api.put("/v1/documents/refunds", json={"text": POLICY})
    assert _chunks(_ctx(api))
    r = api.put("/v1/documents/refunds", json={"text": NEW_POLICY, "policy": "invalidate"})
    assert r.status_code == 202
    ctx = _ctx(api)
    assert _chunks(ctx) == []
    assert "30 days" not in str(ctx["messages"])


def test_write_behind_serves_the_old_version_and_reports_its_staleness(
    no_worker_api: TestClient, container: Container
) -> None:
    api = no_worker_api
    old = api.put("/v1/documents/refunds", json={"text": POLICY}).json()
    assert all("stale_s" not in c for c in _chunks(_ctx(api)))
    r = api.put("/v1/documents/refunds", json={"text": NEW_POLICY, "policy": "write_behind"})
    assert r.status_code == 202
    later = dataclasses.replace(
        container.services, clock=lambda: container.services.clock() + timedelta(seconds=90)
    )
    app = create_app(later, container.keys, container.heartbeat)
    with TestClient(app) as shifted:
        chunks = _chunks(_ctx(shifted))
    assert {c["version"] for c in chunks} == {old["version"]}  # no gap: the old one serves
    assert all(89 <= c["stale_s"] <= 120 for c in chunks)
    body = r.json()
    documents.run_ingest_job(
        container.services,
        body["job_id"],
        "default",
        "refunds",
        body["version"],
        body["sequence"],
        0,
    )
    chunks = _chunks(_ctx(api))
    assert {c["version"] for c in chunks} == {body["version"]}
    assert all("stale_s" not in c for c in chunks)


class BlindEmbedder:
    """Every text gets the same vector: only exact terms (the sparse half) can tell them apart."""

    model_name = "blind"
    dimension = 384

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [[1.0] + [0.0] * 383 for _ in texts]


def test_hybrid_retrieval_finds_an_exact_identifier_dense_cannot_see(
    settings: Settings, redis_url: str, tokenizer: TiktokenTokenizer, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"context_retrieved_limit": 2})
    built = build_container(
        settings, redis_url, BlindEmbedder(), EdgeIndex(tmp_path / "blind", 384), tokenizer
    )
    try:
        svc = built.services
        for i in range(40):
            body = f"Ticket {i}: the printer on floor {i} jams on duplex jobs."
            if i == 23:
                body = "Ticket 23: escalate incident XK-9921 to the storage team."
            ingest_document(svc, "t", f"doc{i}", body)
        ctx = assemble_context(
            svc, "t", ContextRequest("s", "u", 2000, query="what happened with XK-9921?")
        )
        served = [i["doc_id"] for i in ctx.items if i["kind"] == "chunk"]
        assert "doc23" in served
    finally:
        built.close()
