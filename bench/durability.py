"""Durability: what strict costs per append, and what default loses on a crash (same run).

    python -m bench durability [--rounds N] [--appends N]

Latency: one-message appends, one client, sequential, against `cmem serve` (hashing embedder):
default; `?durability=strict` per request (WAITAOF; Valkey fsyncs every second, so it waits
for the next fsync); and the `durability = strict` setting (Valkey `appendfsync always`).
Crashes: rounds of SIGKILL of the whole service group during 4 writers' appends, per mode.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.stats import line, save
from harness.crash import crash_rounds
from harness.served import Served

FAST = {"CMEM_EMBEDDING_MODEL_PATH": "hashing"}


def _arg(name: str, default: int) -> int:
    args = sys.argv
    return int(args[args.index(name) + 1]) if name in args else default


def _appends(http: httpx.Client, n: int, query: str, tag: str) -> list[float]:
    times: list[float] = []
    for i in range(n):
        body = {"user_id": "u", "messages": [{"id": f"{tag}{i}", "role": "user", "content": "x"}]}
        started = time.perf_counter()
        r = http.post(f"/v1/sessions/lat/messages{query}", json=body)
        times.append((time.perf_counter() - started) * 1000)
        assert r.status_code == 201, r.text
    return times


def latency(root: Path, n: int) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {}
    served = Served(root / "lat-default", env=FAST)
    served.wait_ready()
    try:
        with served.client() as http:
            _appends(http, 20, "", "warm")
            results["default"] = _appends(http, n, "", "d")
            results["strict per request (WAITAOF, everysec)"] = _appends(
                http, n, "?durability=strict", "s"
            )
    finally:
        served.stop()
    served = Served(root / "lat-strict", env={**FAST, "CMEM_DURABILITY": "strict"})
    served.wait_ready()
    try:
        with served.client() as http:
            _appends(http, 20, "", "warm")
            results["strict setting (appendfsync always)"] = _appends(http, n, "", "a")
    finally:
        served.stop()
    return results


def main() -> None:
    rounds = _arg("--rounds", 6)
    n = _arg("--appends", 300)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        times = latency(root, n)
        print(f"one-message append, 1 client, {n} each:")
        base = sorted(times["default"])[len(times["default"]) // 2]
        for name, values in times.items():
            ratio = sorted(values)[len(values) // 2] / base
            print("  " + line(name, values, f"x{ratio:.1f} of default p50"))
        crashes: dict[str, object] = {}
        for mode in ("default", "strict"):
            result = crash_rounds(root / f"crash-{mode}", {**FAST, "CMEM_DURABILITY": mode}, rounds)
            window = max(result.windows_s, default=0.0)
            print(
                f"crash rounds ({mode}): {rounds} SIGKILLs of the service group, "
                f"{result.acked} acknowledged appends, {len(result.lost)} lost in "
                f"{len(result.windows_s)} rounds, largest loss window {window * 1000:.0f} ms"
            )
            crashes[mode] = {"acked": result.acked, "lost": len(result.lost), "windows_s": window}
    save("durability", {"latency_ms": times, "crashes": crashes})


if __name__ == "__main__":
    main()
