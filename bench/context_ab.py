"""/v1/context's assembly time, this tree against a baseline tree, in the same run (issue 11:
facts learned, event time, conflicts must not slow the hot path).

One session of 600 turns (indexed) and 2,000 facts of one user (a third of them superseded),
the deterministic hashing embedder (so the query embedding does not drown what changed), a
fresh Valkey and Qdrant Edge per tree; `assemble_context` timed in-process, 300 calls after 30
warm-up calls, alternating two queries. The baseline is another checkout of the service (e.g.
`git archive <commit> | tar -x -C /tmp/base`), run in a subprocess with its own code.

    python -m bench context_ab --baseline /tmp/base
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.stats import pct

TURNS = 600
FACTS = 2_000
CALLS = 300
WARMUP = 30
WORDS = [
    "garden",
    "river",
    "budget",
    "train",
    "doctor",
    "piano",
    "coffee",
    "laptop",
    "paint",
    "ticket",
    "museum",
    "salad",
]


def measure() -> dict[str, float]:
    """Build the data set in a fresh store and time assemble_context (ms)."""
    from service.adapters.edge_index import EdgeIndex
    from service.adapters.hashing_embedder import HashingEmbedder
    from service.domain.models import NewMessage
    from service.logging import configure_logging
    from service.runtime.container import build_container
    from service.runtime.valkey import start_valkey
    from service.settings import Settings
    from service.usecases import sessions
    from service.usecases.context import ContextRequest, assemble_context
    from service.usecases.facts import remember_fact
    from service.usecases.indexing import index_messages

    configure_logging("console", "warning")
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), embedding_model_path="hashing")
        valkey = start_valkey(Path(tmp) / "valkey")
        try:
            built = build_container(
                settings,
                valkey.connection_url,
                HashingEmbedder(),
                EdgeIndex(Path(tmp) / "edge", 384),
            )
            svc = built.services
            turns = [
                NewMessage(
                    role="user" if i % 2 == 0 else "assistant",
                    content=f"turn {i}: the {WORDS[i % 12]} and the {WORDS[(i * 7) % 12]} {i}",
                    id=f"m{i}",
                )
                for i in range(TURNS)
            ]
            for start in range(0, TURNS, 100):
                sessions.append_messages(svc, "bench", "s", "u", turns[start : start + 100])
            index_messages(svc, "bench", "s", 0, [t.id or "" for t in turns])
            for i in range(FACTS):
                key = f"k{i % (FACTS * 2 // 3)}"  # a third of the keys written twice
                text = f"the user's {WORDS[i % 12]} number {i} is {i * 7919 % 100_000}"
                remember_fact(svc, "bench", "u", text, key)
            times: list[float] = []
            for n in range(WARMUP + CALLS):
                query = f"what about the {WORDS[n % 12]} and {WORDS[(n + 5) % 12]}?"
                started = time.perf_counter()
                assemble_context(svc, "bench", ContextRequest("s", "u", 4096, query=query))
                if n >= WARMUP:
                    times.append((time.perf_counter() - started) * 1000)
            built.close()
        finally:
            valkey.stop()
    return {"p50": statistics.median(times), "p99": pct(times, 99)}


def main() -> None:
    args = sys.argv[1:]
    if "--child" in args:
        print(json.dumps(measure()))
        return
    baseline = args[args.index("--baseline") + 1] if "--baseline" in args else ""
    runs: dict[str, list[dict[str, float]]] = {"this": [], "baseline": []}
    for _ in range(2):  # interleaved, so drift on a shared machine hits both
        runs["this"].append(measure())
        if baseline:
            out = subprocess.run(
                [sys.executable, "-m", "bench.context_ab", "--child"],
                cwd=baseline,
                env={"PYTHONPATH": baseline, "PATH": "/usr/bin:/bin"},
                capture_output=True,
                text=True,
                check=True,
            )
            runs["baseline"].append(json.loads(out.stdout.strip().splitlines()[-1]))
    for name, results in runs.items():
        if results:
            p50 = statistics.median(r["p50"] for r in results)
            p99 = statistics.median(r["p99"] for r in results)
            print(f"assemble_context {name:<9} p50 {p50:7.2f} ms  p99 {p99:7.2f} ms")
    if runs["baseline"]:
        ratio = statistics.median(r["p50"] for r in runs["this"]) / statistics.median(
            r["p50"] for r in runs["baseline"]
        )
        print(f"this / baseline p50: {ratio:.3f} (target <= 1.10)")


if __name__ == "__main__":
    main()
