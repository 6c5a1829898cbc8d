"""POST /v1/context over HTTP, timed: the one measuring loop the benchmarks share."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True, slots=True)
class ContextCalls:
    """The measured calls (warm-up left out), in order: client ms, Server-Timing ms, bodies."""

    total: list[float]
    embed: list[float]
    assemble: list[float]  # server-side, query embedding included
    bodies: list[dict[str, Any]]

    @property
    def without_embed(self) -> list[float]:
        """Client total minus the query embedding."""
        return [t - e for t, e in zip(self.total, self.embed, strict=True)]

    @property
    def server(self) -> list[float]:
        """Server-side assembly without the query embedding."""
        return [a - e for a, e in zip(self.assemble, self.embed, strict=True)]


def server_timing(response: httpx.Response) -> dict[str, float]:
    """`Server-Timing: embed;dur=1.2, assemble;dur=3.4` as {"embed": 1.2, "assemble": 3.4}."""
    parts = (p.strip().split(";dur=") for p in response.headers["server-timing"].split(","))
    return {name: float(ms) for name, ms in parts}


def measure_context(
    http: httpx.Client, requests: Sequence[dict[str, Any]], warmup: int = 20
) -> ContextCalls:
    """POST each request body in order; the first `warmup` calls are not measured."""
    calls = ContextCalls([], [], [], [])
    for i, body in enumerate(requests):
        t = time.perf_counter()
        r = http.post("/v1/context", json=body)
        elapsed = (time.perf_counter() - t) * 1000
        r.raise_for_status()
        if i < warmup:
            continue
        timing = server_timing(r)
        calls.total.append(elapsed)
        calls.embed.append(timing["embed"])
        calls.assemble.append(timing["assemble"])
        calls.bodies.append(r.json())
    return calls
