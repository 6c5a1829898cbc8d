"""/v1/context latency over HTTP, this tree against a baseline tree, in the same run (issue 10's
latency targets: p50 <= 15 ms, p99 <= 30 ms on a 10,000-turn session; p50 <= 10 ms on a
300-turn session).

The data is built once by this tree's `cmem serve` (the long_session benchmark's conversation:
10,000 turns appended, indexed by the real embedder and compacted by the service's own worker,
and a 300-turn session beside it) and kept in `--data DIR` to be reused by later runs. Then,
for each round, each tree serves its own copy of that data dir in turn (the order alternates
each round, so drift on a shared machine hits both): warm-up calls, then the same requests
(questions about old, trimmed turns of the long session; about any turn of the short one).
Reported per tree: the median over rounds of each round's p50 and p99, client-observed, and the
Server-Timing parts; and how many contexts are identical (same `context_hash`) between trees.

    git archive <commit> | tar -x -C /tmp/base
    python -m bench context_latency --baseline /tmp/base [--data DIR] [--rounds 3] [--calls 200]

`--data` (default: cmem-bench-latency-data in the temp dir) is reused as long as it holds a
finished data set: delete it when what the service stores changes. `--env K=V,...`: settings
for this tree's service only (to A/B a setting against the baseline). Without `--baseline`
(as in `make bench`): this tree's numbers alone.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.http_context import ContextCalls, measure_context
from bench.long_session import (
    LONG_TURNS,
    SHORT_TURNS,
    USER,
    append_paced,
    conversation,
    describe,
    stop_served,
    wait_compacted,
)
from bench.stats import pct, save
from harness.served import SHARED_MODEL_DIR, Served, wait_pending_zero

WARMUP = 20
READY_MARK = "bench-ready.json"  # written once the data set is complete


def _arg(name: str, default: str) -> str:
    args = sys.argv[1:]
    return args[args.index(name) + 1] if name in args else default


def build_data(data: Path) -> dict[str, Any]:
    """The long and the short session, served and compacted by this tree; returns the
    questions (about trimmed turns of the long session, about any turn of the short one)."""
    rng = random.Random(11)
    turns, questions = conversation(rng, "L", LONG_TURNS)
    short_turns, short_questions = conversation(rng, "S", SHORT_TURNS)
    served = Served(data)
    try:
        served.wait_ready(120)
        with served.client() as http:
            started = time.perf_counter()
            append_paced(http, "long", turns, started)
            view = wait_compacted(http, "long", started)
            print(f"  long session: {describe(view)}", flush=True)
            append_paced(http, "short", short_turns, time.perf_counter())
            wait_pending_zero(http, "short")
            last = view["summary"]["last_seq"] if view["summary"] else LONG_TURNS - 200
    finally:
        stop_served(served)
    out = {
        "long": [q.text for q in questions if q.turn_index <= last],
        "short": [q.text for q in short_questions],
        "session": describe(view),
    }
    (data / READY_MARK).write_text(json.dumps(out))
    return out


def _requests(session_id: str, texts: list[str], n: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [
        {
            "session_id": session_id,
            "user_id": USER,
            "budget_tokens": 4096,
            "query": rng.choice(texts),
        }
        for _ in range(n)
    ]


def serve_and_measure(
    tree: Path,
    data: Path,
    long_requests: list[dict[str, Any]],
    short_requests: list[dict[str, Any]],
    env: dict[str, str] | None = None,
) -> dict[str, ContextCalls]:
    """One tree's `cmem serve` on a copy of the data dir: the long session's calls, then the
    short session's."""
    with tempfile.TemporaryDirectory(prefix="cmem-bench-lat-", ignore_cleanup_errors=True) as tmp:
        copy = Path(tmp) / "data"
        shutil.copytree(data, copy, ignore=shutil.ignore_patterns("*.sock", "*.pid", "*.lock"))
        # Each tree with its own code and its own default settings file.
        own = {"PYTHONPATH": str(tree), "CMEM_CONFIG_FILE": str(tree / "config" / "default.toml")}
        served = Served(copy, env={**own, **(env or {})})
        try:
            served.wait_ready(180)
            with served.client() as http:
                return {
                    "long": measure_context(http, long_requests, WARMUP),
                    "short": measure_context(http, short_requests, WARMUP),
                }
        finally:
            stop_served(served)


def _summary(runs: list[ContextCalls]) -> dict[str, float]:
    def med(values: list[float]) -> float:
        return statistics.median(values)

    return {
        "p50": med([med(r.total) for r in runs]),
        "p99": med([pct(r.total, 99) for r in runs]),
        "embed_p50": med([med(r.embed) for r in runs]),
        "server_p50": med([med(r.assemble) for r in runs]),
        "server_without_embed_p50": med([med(r.server) for r in runs]),
        "outside_server_p50": med(
            [med([t - a for t, a in zip(r.total, r.assemble, strict=True)]) for r in runs]
        ),
    }


def _same(a: ContextCalls, b: ContextCalls) -> int:
    return sum(
        x["context_hash"] == y["context_hash"] for x, y in zip(a.bodies, b.bodies, strict=True)
    )


def main() -> None:
    from service.logging import configure_logging

    configure_logging("console", "warning")
    this = Path(__file__).resolve().parent.parent
    baseline = _arg("--baseline", "")
    rounds = int(_arg("--rounds", "3"))
    calls = int(_arg("--calls", "200"))
    data = Path(_arg("--data", str(Path(tempfile.gettempdir()) / "cmem-bench-latency-data")))
    # One ONNX export for every served copy (else each data dir exports the model again).
    os.environ.setdefault(SHARED_MODEL_DIR, str(data.parent / "cmem-bench-latency-models"))
    if (data / READY_MARK).exists():
        questions = json.loads((data / READY_MARK).read_text())
        print(f"reusing the data set in {data}: {questions['session']}", flush=True)
    else:
        shutil.rmtree(data, ignore_errors=True)
        print(f"building the data set in {data} (10,000 turns: several minutes)", flush=True)
        questions = build_data(data)
    long_requests = _requests("long", questions["long"], WARMUP + calls, 1)
    short_requests = _requests("short", questions["short"], WARMUP + calls, 2)
    # `--env K=V,K=V`: settings for this tree's service only (e.g. to A/B a setting).
    this_env = dict(kv.split("=", 1) for kv in _arg("--env", "").split(",") if kv)
    trees = {"this": this, **({"baseline": Path(baseline).resolve()} if baseline else {})}
    runs: dict[str, list[dict[str, ContextCalls]]] = {name: [] for name in trees}
    for n in range(rounds):
        order = list(trees) if n % 2 == 0 else list(reversed(trees))
        for name in order:
            load = os.getloadavg()[0]
            env = this_env if name == "this" else None
            result = serve_and_measure(trees[name], data, long_requests, short_requests, env)
            runs[name].append(result)
            print(
                f"  round {n + 1} {name:<8} load {load:4.1f}: long p50 "
                f"{statistics.median(result['long'].total):6.2f} ms, short p50 "
                f"{statistics.median(result['short'].total):6.2f} ms",
                flush=True,
            )
    report: dict[str, Any] = {}
    for session, target in (("long", "p50 <= 15, p99 <= 30"), ("short", "p50 <= 10")):
        label = f"{LONG_TURNS}-turn" if session == "long" else f"{SHORT_TURNS}-turn"
        print(f"POST /v1/context, {label} session ({rounds} rounds x {calls} calls; {target} ms)")
        for name in trees:
            s = _summary([r[session] for r in runs[name]])
            report[f"{session}_{name}"] = s
            print(
                f"  {name:<8} p50 {s['p50']:6.2f} ms  p99 {s['p99']:6.2f} ms   server "
                f"{s['server_p50']:5.2f} (embed {s['embed_p50']:4.2f}, rest "
                f"{s['server_without_embed_p50']:5.2f}), outside the handler "
                f"{s['outside_server_p50']:4.2f}"
            )
        if baseline:
            same = [
                _same(a[session], b[session])
                for a, b in zip(runs["this"], runs["baseline"], strict=True)
            ]
            mine, noise = (
                [_same(runs[tree][0][session], r[session]) for r in runs[tree][1:]]
                for tree in ("this", "baseline")
            )
            print(
                f"  same context_hash, this vs baseline, per round: {same} of {calls}; round 1 "
                f"vs the later rounds (reproducible: all {calls}): this {mine}, baseline {noise}"
            )
            report[f"{session}_identical"] = same
            report[f"{session}_this_self"] = mine
            report[f"{session}_baseline_self"] = noise
    if baseline:
        identity(trees, this_env, data, long_requests, short_requests, report)
    save("context_latency", report)


def identity(
    trees: dict[str, Path],
    this_env: dict[str, str],
    data: Path,
    long_requests: list[dict[str, Any]],
    short_requests: list[dict[str, Any]],
    report: dict[str, Any],
) -> None:
    """Both trees once more with one recall round (`context_recall_hops = 1`): then every
    context is deterministic, and the same request must give the same context_hash."""
    hops = {"CMEM_CONTEXT_RECALL_HOPS": "1"}
    got = {
        name: serve_and_measure(
            tree,
            data,
            long_requests,
            short_requests,
            {**hops, **(this_env if name == "this" else {})},
        )
        for name, tree in trees.items()
    }
    for session in ("long", "short"):
        same = _same(got["this"][session], got["baseline"][session])
        n = len(got["this"][session].bodies)
        print(f"identical contexts with one recall round, {session} session: {same} of {n}")
        report[f"{session}_identical_one_round"] = [same, n]


if __name__ == "__main__":
    main()
