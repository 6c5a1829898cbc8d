from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.runtime.container import Container
from workers.runner import WorkerRunner


@pytest.fixture
def api(container: Container, worker: WorkerRunner) -> Iterator[TestClient]:
    app = create_app(container.services, container.keys, container.heartbeat)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def wait_indexed(api: TestClient, session_id: str, headers: dict[str, str] | None = None) -> Any:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        body = api.get(f"/v1/sessions/{session_id}", headers=headers or {}).json()
        if body["pending"] == 0:
            return body
        time.sleep(0.05)
    raise AssertionError(f"session {session_id} still has pending work: {body}")
