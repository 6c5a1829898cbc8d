"""`cmem reindex`: start a re-index over the HTTP API and follow it with a progress bar.

A client of the running service (embedded `cmem serve` or the production API), so it needs
no access to the stores and works the same in both deployments.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

import httpx

POLL_S = 0.5


class ReindexFailed(Exception):
    """The service refused the re-index, or the job failed."""


def bar(done: int, total: int, counts: dict[str, Any], width: int = 30) -> str:
    share = min(done / total, 1.0) if total else 1.0
    filled = int(share * width)
    shown = ", ".join(
        f"{k} {v}" for k, v in counts.items() if v and k in ("rebuilt", "unchanged", "failed")
    )
    return f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {share:6.1%} {shown}"


def run(url: str, key: str, wait: bool, out: TextIO = sys.stderr) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    with httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=30) as client:
        return follow(client, wait, out)


def follow(client: httpx.Client, wait: bool, out: TextIO) -> dict[str, Any]:
    """Start the re-index and, with `wait`, draw its progress until it ends."""
    try:
        started = client.post("/v1/admin/reindex")
    except httpx.HTTPError as exc:
        raise ReindexFailed(f"cannot reach {client.base_url}: {exc}") from exc
    if started.status_code not in (200, 202):
        raise ReindexFailed(_error(started))
    body: dict[str, Any] = started.json()
    job_id = body["job_id"]
    note = " (already running; following it)" if body["status"] == "already_running" else ""
    print(f"re-index job {job_id}{note}", file=out, flush=True)
    if not wait:
        return body
    interactive = out.isatty()
    last = ""
    while True:
        job = client.get(f"/v1/jobs/{job_id}")
        if job.status_code != 200:
            raise ReindexFailed(_error(job))
        state: dict[str, Any] = job.json()
        total = int(state.get("payload", {}).get("total") or 0)
        line = bar(int(state.get("done") or 0), total, state.get("counts") or {})
        if interactive:
            print(f"\r{line}", end="", file=out, flush=True)
        elif line != last:
            print(line, file=out, flush=True)
        last = line
        if state["state"] in ("done", "failed"):
            if interactive:
                print(file=out)
            if state["state"] == "failed":
                raise ReindexFailed(f"job {job_id} failed: {state.get('error')}")
            return state
        time.sleep(POLL_S)


def _error(response: httpx.Response) -> str:
    try:
        detail = response.json().get("error", {}).get("message") or response.text
    except ValueError:
        detail = response.text
    return f"HTTP {response.status_code}: {detail}"
