"""The SDK's overhead over raw httpx on POST /v1/context, in the same run against one served
instance: calls alternate between the two so drift on the server hits both alike.

Target: the SDK adds < 0.5 ms at p50 (request building, retries' bookkeeping, typed parsing).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import httpx
from coherent_memory_client import CoherentMemory
from coherent_memory_client.models import Context

from bench.stats import line, save
from harness.served import Served, wait_pending_zero

CALLS = 400
WARMUP = 40
TURNS = 60


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        served = Served(Path(tmp))
        served.wait_ready()
        try:
            _run(served.url)
        finally:
            served.stop()


def _run(url: str) -> None:
    turns = [
        {"id": f"t{i}", "role": "user" if i % 2 == 0 else "assistant", "content": _turn(i)}
        for i in range(TURNS)
    ]
    body = {"session_id": "bench", "user_id": "ana", "budget_tokens": 2048}
    with httpx.Client(base_url=url, timeout=30) as raw, CoherentMemory(url) as sdk:
        raw.post("/v1/sessions/bench/messages", json={"user_id": "ana", "messages": turns})
        wait_pending_zero(raw, "bench")
        raw_ms: list[float] = []
        sdk_ms: list[float] = []
        parse_ms: list[float] = []
        for i in range(CALLS + WARMUP):
            t = time.perf_counter()
            r = raw.post("/v1/context", json=body)
            r.raise_for_status()
            r.json()
            raw_elapsed = (time.perf_counter() - t) * 1000
            t = time.perf_counter()
            sdk.get_context("bench", "ana", 2048)
            sdk_elapsed = (time.perf_counter() - t) * 1000
            t = time.perf_counter()
            Context.model_validate_json(r.content)
            parse_elapsed = (time.perf_counter() - t) * 1000
            if i >= WARMUP:
                raw_ms.append(raw_elapsed)
                sdk_ms.append(sdk_elapsed)
                parse_ms.append(parse_elapsed)
    overhead = statistics.median(sdk_ms) - statistics.median(raw_ms)
    paired = statistics.median(s - r for s, r in zip(sdk_ms, raw_ms, strict=True))
    print(line("raw httpx POST /v1/context (+ .json())", raw_ms))
    print(line("SDK get_context (typed Context)", sdk_ms))
    print(line("SDK typed parsing alone", parse_ms))
    print(f"{'SDK overhead, p50(SDK) - p50(raw)':<46} {overhead:8.3f} ms   (target < 0.5 ms)")
    print(f"{'SDK overhead, median of paired differences':<46} {paired:8.3f} ms")
    save(
        "sdk_overhead",
        {"raw_ms": raw_ms, "sdk_ms": sdk_ms, "parse_ms": parse_ms, "overhead_p50_ms": overhead},
    )


def _turn(i: int) -> str:
    return f"Turn {i}: we talked about the trip to Lisbon, the budget and who books the hotel."


if __name__ == "__main__":
    main()
