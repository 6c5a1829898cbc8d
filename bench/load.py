"""Load: N concurrent clients on `cmem serve`, a realistic mix, bounded in time.

    python -m bench load [--clients 32] [--seconds 30] [--hashing]

Each client, in a loop: append a turn to its own session (45 %), ask for a context with a query
(40 %), remember a fact (10 %), write a document (5 %). Prints req/s, p50/p99 per kind, errors
by status, context p50 alone (one client, before the load) against p50/p99 under load, and
then checks that every acknowledged write is there (turns by id, facts by id, documents by
version). --hashing: the model-free embedder instead of MiniLM.
"""

from __future__ import annotations

import random
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import httpx

from bench.stats import line, pct, save
from harness.crash import stored_ids
from harness.served import Served, wait_pending_zero

WORDS = [
    *("garden", "train", "budget", "recipe", "meeting", "Lisbon", "jazz", "invoice"),
    *("mountain", "Kyoto", "coffee", "tax", "report", "flight", "hotel", "doctor"),
    *("birthday", "guitar", "marathon", "library"),
]


def _arg(name: str, default: int) -> int:
    return int(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


def _sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 30))).capitalize() + "."


class Load:
    """The clients' shared record: latencies per kind, statuses, acknowledged writes."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ms: dict[str, list[float]] = defaultdict(list)
        self.statuses: Counter[tuple[str, int]] = Counter()
        self.turns: dict[str, set[str]] = defaultdict(set)  # session -> acknowledged ids
        self.facts: dict[str, str] = {}  # fact id -> user
        self.documents: dict[str, str] = {}  # doc id -> acknowledged version

    def record(self, kind: str, ms: float, status: int) -> None:
        with self.lock:
            self.ms[kind].append(ms)
            self.statuses[(kind, status)] += 1


def _client(url: str, n: int, until: float, load: Load, seed: int) -> None:
    rng = random.Random(seed)
    session, user = f"load-s{n}", f"load-u{n}"
    with httpx.Client(base_url=url, timeout=60) as http:
        i = 0
        while time.monotonic() < until:
            i += 1
            pick = rng.random()
            started = time.perf_counter()
            if pick < 0.45:
                kind, mid = "append", f"c{n}-m{i}"
                turn = {
                    "id": mid,
                    "role": "user" if i % 2 else "assistant",
                    "content": _sentence(rng),
                }
                r = http.post(
                    f"/v1/sessions/{session}/messages", json={"user_id": user, "messages": [turn]}
                )
                if r.status_code == 201:
                    with load.lock:
                        load.turns[session].add(mid)
            elif pick < 0.85:
                kind = "context"
                body = {
                    "session_id": session,
                    "user_id": user,
                    "query": _sentence(rng),
                    "budget_tokens": 1500,
                }
                r = http.post("/v1/context", json=body)
            elif pick < 0.95:
                kind = "fact"
                r = http.post("/v1/facts", json={"user_id": user, "text": _sentence(rng)})
                if r.status_code in (200, 201):
                    with load.lock:
                        load.facts[r.json()["id"]] = user
            else:
                kind, doc = "document", f"doc{n % 4}"
                text = " ".join(_sentence(rng) for _ in range(20))
                r = http.put(f"/v1/documents/{doc}", json={"text": text})
                if r.status_code in (200, 201, 202):
                    with load.lock:
                        # Documents are shared by clients: the last acknowledged write wins.
                        load.documents[doc] = r.json()["version"]
            load.record(kind, (time.perf_counter() - started) * 1000, r.status_code)


def _alone(http: httpx.Client, n: int) -> list[float]:
    rng = random.Random(1)
    http.post(
        "/v1/sessions/alone/messages",
        json={
            "user_id": "alone",
            "messages": [{"role": "user", "content": _sentence(rng)} for _ in range(40)],
        },
    )
    wait_pending_zero(http, "alone")
    times = []
    for i in range(n + 10):
        body = {
            "session_id": "alone",
            "user_id": "alone",
            "query": _sentence(rng),
            "budget_tokens": 1500,
        }
        started = time.perf_counter()
        http.post("/v1/context", json=body).raise_for_status()
        if i >= 10:
            times.append((time.perf_counter() - started) * 1000)
    return times


def _missing(http: httpx.Client, load: Load) -> dict[str, int]:
    missing: Counter[str] = Counter()
    for session, ids in load.turns.items():
        missing["turns"] += len(ids - stored_ids(http, session))
    for fact_id in load.facts:
        missing["facts"] += http.get(f"/v1/facts/{fact_id}").status_code != 200
    for doc, version in load.documents.items():
        got = http.get(f"/v1/documents/{doc}").json()
        missing["documents"] += version not in {v["version"] for v in got.get("versions", [])}
    return dict(missing)


def main() -> None:
    clients = _arg("--clients", 32)
    seconds = _arg("--seconds", 30)
    env = {"CMEM_EMBEDDING_MODEL_PATH": "hashing"} if "--hashing" in sys.argv else {}
    with tempfile.TemporaryDirectory() as tmp:
        served = Served(Path(tmp), env=env)
        served.wait_ready(300)
        try:
            with served.client() as http:
                alone = _alone(http, 100)
                load = Load()
                until = time.monotonic() + seconds
                threads = [
                    threading.Thread(target=_client, args=(served.url, n, until, load, n))
                    for n in range(clients)
                ]
                started = time.monotonic()
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                took = time.monotonic() - started
                missing = _missing(http, load)
        finally:
            served.stop()
    total = sum(len(v) for v in load.ms.values())
    errors = {f"{k} {s}": c for (k, s), c in sorted(load.statuses.items()) if s >= 400}
    print(f"{clients} clients, {took:.0f} s: {total} requests, {total / took:.1f} req/s")
    for kind in ("append", "context", "fact", "document"):
        if load.ms[kind]:
            print("  " + line(kind, load.ms[kind]))
    under = load.ms["context"]
    print("  " + line("context alone (1 client, before the load)", alone))
    print(
        f"  context p99 under load / p50 alone: {pct(under, 99) / pct(alone, 50):.1f}x "
        f"({pct(under, 99):.1f} ms vs {pct(alone, 50):.1f} ms)"
    )
    print(f"  errors by status: {errors or 'none'}")
    acked = {
        "turns": sum(len(v) for v in load.turns.values()),
        "facts": len(load.facts),
        "documents": len(load.documents),
    }
    print(f"  acknowledged writes: {acked}; missing afterwards: {missing or 'none'}")
    save("load", {"ms": load.ms, "alone": alone, "errors": errors, "missing": missing})


if __name__ == "__main__":
    main()
