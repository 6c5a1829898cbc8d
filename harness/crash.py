"""Crash rounds: SIGKILL a served instance's whole process group during acknowledged appends,
restart it, count the acknowledged appends that are gone (tests and bench/durability.py)."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from harness.served import Served

SESSION = "crash"


@dataclass
class CrashResult:
    acked: int
    lost: list[str]
    # For each round that lost writes: how long before the kill the oldest lost one was acked.
    windows_s: list[float]


def _writer(url: str, prefix: str, acked: dict[str, float], stop: threading.Event) -> None:
    with httpx.Client(base_url=url, timeout=5) as http:
        n = 0
        while not stop.is_set():
            n += 1
            message_id = f"{prefix}-{n}"
            body = {
                "user_id": "u",
                "messages": [{"id": message_id, "role": "user", "content": f"turn {n}"}],
            }
            try:
                r = http.post(f"/v1/sessions/{SESSION}/messages", json=body)
            except httpx.HTTPError:
                return  # the service is gone: what was acknowledged is in `acked`
            if r.status_code == 201:
                acked[message_id] = time.monotonic()


def stored_ids(http: httpx.Client, session: str = SESSION) -> set[str]:
    """The ids of every turn stored in `session`, page by page."""
    ids: set[str] = set()
    offset = 0
    while True:
        page = http.get(
            f"/v1/sessions/{session}/messages", params={"offset": offset, "limit": 1000}
        ).json()
        ids |= {m["id"] for m in page["messages"]}
        offset += len(page["messages"])
        if offset >= page["total"] or not page["messages"]:
            return ids


def crash_rounds(
    data_dir: Path, env: dict[str, str], rounds: int, seed: int = 14, writers: int = 4
) -> CrashResult:
    """Each round: start, write with `writers` clients, SIGKILL the group at a random point
    (0.5-2 s in), then restart and compare what was acknowledged with what is stored."""
    rng = random.Random(seed)
    acked_total = 0
    lost: list[str] = []
    windows: list[float] = []
    for round_ in range(rounds):
        served = Served(data_dir, env=env, own_group=True)
        served.wait_ready()
        acked: dict[str, float] = {}
        stop = threading.Event()
        threads = [
            threading.Thread(target=_writer, args=(served.url, f"r{round_}w{w}", acked, stop))
            for w in range(writers)
        ]
        for thread in threads:
            thread.start()
        time.sleep(rng.uniform(0.5, 2.0))
        killed_at = time.monotonic()
        served.kill_group()
        stop.set()
        for thread in threads:
            thread.join(10)
        after = Served(data_dir, env=env)
        after.wait_ready()
        try:
            with after.client() as http:
                gone = sorted(set(acked) - stored_ids(http))
        finally:
            after.stop()
        acked_total += len(acked)
        lost += gone
        if gone:
            windows.append(killed_at - min(acked[i] for i in gone))
    return CrashResult(acked_total, lost, windows)
