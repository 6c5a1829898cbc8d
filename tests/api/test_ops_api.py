"""Health, readiness, metrics, OpenAPI docs."""

from __future__ import annotations

from fastapi.testclient import TestClient


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
    assert set(timing) == {"embed", "assemble"}
    assert 0 <= float(timing["embed"]) <= float(timing["assemble"])
