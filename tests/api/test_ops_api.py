"""Health, readiness, metrics, OpenAPI docs."""

from __future__ import annotations

import dataclasses

from fastapi.testclient import TestClient

from service.api.app import create_app
from service.runtime.container import Container
from service.settings import Settings


def test_health_and_readiness(api: TestClient) -> None:
    assert api.get("/healthz").json() == {"status": "ok"}
    ready = api.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"redis": "ok", "vector_store": "ok", "worker": "ok"}


def test_metrics_answer_the_first_questions(api: TestClient) -> None:
    api.post("/v1/context", json={"session_id": "s", "user_id": "u", "budget_tokens": 50})
    text = api.get("/metrics").text
    assert 'cmem_http_request_seconds_count{method="POST",route="/v1/context",status="200"}' in text
    assert "cmem_context_tokens_bucket" in text
    assert "cmem_queue_depth" in text


def _counted(text: str, reason: str) -> float:
    prefix = f'cmem_context_excluded_total{{reason="{reason}"}} '
    return sum(float(line[len(prefix) :]) for line in text.splitlines() if line.startswith(prefix))


def test_excluded_items_are_counted_per_reason(api: TestClient) -> None:
    turns = [{"role": "user", "content": f"turn {i} " + "words " * 30} for i in range(12)]
    api.post("/v1/sessions/m/messages", json={"user_id": "u", "messages": turns})
    before = _counted(api.get("/metrics").text, "budget")
    budget = 0
    for tokens in (120, 200, 90):
        body = {"session_id": "m", "user_id": "u", "budget_tokens": tokens}
        excluded = api.post("/v1/context", json=body).json()["excluded"]
        budget += sum(1 for e in excluded if e["reason"] == "budget")
    assert budget >= 3  # each context left turns out
    assert _counted(api.get("/metrics").text, "budget") == before + budget


def test_docs_are_served(api: TestClient) -> None:
    assert api.get("/docs").status_code == 200
    paths = api.get("/openapi.json").json()["paths"]
    assert {"/v1/context", "/v1/sessions/{session_id}/messages", "/v1/facts"} <= set(paths)


def test_context_reports_server_timing(api: TestClient) -> None:
    r = api.post(
        "/v1/context",
        json={"session_id": "s", "user_id": "u", "budget_tokens": 50, "query": "anything"},
    )
    timing = dict(part.strip().split(";dur=") for part in r.headers["server-timing"].split(","))
    assert set(timing) == {"embed", "retrieve", "pack", "assemble"}
    parts = float(timing["embed"]) + float(timing["retrieve"]) + float(timing["pack"])
    assert 0 < parts <= float(timing["assemble"])
    assert all(float(timing[k]) > 0 for k in ("embed", "retrieve", "pack"))


def test_ops_endpoints_can_be_protected(container: Container) -> None:
    settings = container.services.settings.model_copy(update={"ops_endpoints": "protected"})
    svc = dataclasses.replace(container.services, settings=settings)
    admin = {"Authorization": f"Bearer {container.keys.create('ta', 'admin')}"}
    client = {"Authorization": f"Bearer {container.keys.create('ta', 'client')}"}
    app = create_app(svc, container.keys, container.heartbeat)
    with TestClient(app, raise_server_exceptions=False) as api:
        for path in ("/docs", "/openapi.json", "/metrics"):
            assert api.get(path).status_code == 401, path
        assert api.get("/redoc").status_code == 404
        assert api.get("/metrics", headers=client).status_code == 403
        assert "cmem_queue_depth" in api.get("/metrics", headers=admin).text
        assert api.get("/docs", headers=client).status_code == 200
        paths = api.get("/openapi.json", headers=client).json()["paths"]
        assert "/v1/context" in paths
        assert "/openapi.json" not in paths
        assert api.get("/healthz").status_code == 200  # probes stay public


def test_production_protects_ops_endpoints_by_default() -> None:
    production = Settings(
        env="production", redis_url="redis://r", qdrant_url="http://q", log_format="json"
    )
    assert production.ops_protected
    assert not Settings().ops_protected
    assert not production.model_copy(update={"ops_endpoints": "public"}).ops_protected
