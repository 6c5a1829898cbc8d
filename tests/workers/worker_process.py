"""A Celery worker in its own process, for crash tests (the test kills it with SIGKILL).

    python -m tests.workers.worker_process REDIS_URL EDGE_PATH

Settings come from CMEM_* variables; the embedder is the model-free hashing one. The stores are
real: the Valkey at REDIS_URL, the Qdrant Edge shard at EDGE_PATH (one process at a time).
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

from service.adapters.edge_index import EdgeIndex
from service.adapters.hashing_embedder import HashingEmbedder
from service.adapters.tiktoken_tokenizer import TiktokenTokenizer
from service.logging import configure_logging
from service.runtime.container import build_container
from service.settings import Settings
from workers.app import create_worker_app
from workers.runner import WorkerRunner


def main() -> None:
    redis_url, edge_path = sys.argv[1], Path(sys.argv[2])
    settings = Settings(data_dir=edge_path.parent, embedding_model_path="hashing")
    configure_logging("console", "warning")
    tokenizer = TiktokenTokenizer(edge_path.parent / "tiktoken", settings.default_model)
    container = build_container(
        settings, redis_url, HashingEmbedder(), EdgeIndex(edge_path, 384), tokenizer
    )
    app = create_worker_app(container.services, redis_url)
    runner = WorkerRunner(app, container.heartbeat, 1, settings.maintenance_interval_s)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    runner.start()
    print("ready", flush=True)
    stop.wait()
    runner.stop()
    container.close()


if __name__ == "__main__":
    main()
