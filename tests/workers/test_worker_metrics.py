"""`cmem worker` serves its own /metrics: job counters and process metrics, on its port."""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path

import httpx

from service.domain.models import NewMessage
from service.runtime.container import Container
from service.runtime.processes import serve_worker_metrics
from service.settings import Settings
from service.usecases.sessions import append_messages
from workers.app import create_worker_app
from workers.runner import WorkerRunner


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_worker_serves_its_job_counters(
    container: Container, redis_url: str, tmp_path: Path
) -> None:
    port = free_port()
    settings = Settings(data_dir=tmp_path, worker_metrics_port=port)
    server = serve_worker_metrics(settings, container.metrics)
    assert server is not None
    runner = WorkerRunner(
        create_worker_app(container.services, redis_url, container.metrics), container.heartbeat, 2
    )
    runner.start()
    try:
        turns = [NewMessage(role="user", content="hello there")]
        append_messages(container.services, "t", "s", "u", turns)
        # At least one: the worker's start-up reconcile may index the same turn again.
        wanted = re.compile(r'cmem_jobs_total\{outcome="success",task="messages.index"\} [1-9]')
        deadline = time.monotonic() + 30
        while not wanted.search(text := httpx.get(f"http://127.0.0.1:{port}/metrics").text):
            assert time.monotonic() < deadline, text
            time.sleep(0.05)
        assert "process_cpu_seconds_total" in text
        assert 'cmem_job_seconds_count{task="messages.index"}' in text
    finally:
        runner.stop()
        server.shutdown()
        server.server_close()
    assert (
        serve_worker_metrics(Settings(data_dir=tmp_path, worker_metrics_port=0), container.metrics)
        is None
    )
