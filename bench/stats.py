"""Percentiles and printing."""

from __future__ import annotations

import json
import statistics
from pathlib import Path


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def line(name: str, values_ms: list[float], target: str = "") -> str:
    return (
        f"{name:<46} p50 {statistics.median(values_ms):8.2f} ms   "
        f"p99 {pct(values_ms, 99):8.2f} ms   n={len(values_ms):<5} {target}"
    )


def save(name: str, results: dict[str, object]) -> None:
    """bench/out/<name>.json: the raw numbers of the last run."""
    out = Path("bench/out")
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(results))
