"""Supervision of the embedded runtime: Valkey restarted, no orphans, bounded shutdown."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from harness.served import Served

pytestmark = pytest.mark.slow

FAST = {"CMEM_EMBEDDING_MODEL_PATH": "hashing"}


def _valkey_pid(data_dir: Path) -> int:
    return int((data_dir / "valkey" / "valkey.pid").read_text())


def _gone(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def _append(http: httpx.Client, session: str, n: int) -> httpx.Response:
    return http.post(
        f"/v1/sessions/{session}/messages",
        json={
            "user_id": "u",
            "messages": [{"id": f"m{n}", "role": "user", "content": f"turn {n}"}],
        },
    )


def test_killed_valkey_is_restarted_from_its_aof(tmp_path: Path) -> None:
    served = Served(tmp_path, env=FAST)
    served.wait_ready()
    try:
        with served.client() as http:
            assert _append(http, "s", 1).status_code == 201
            time.sleep(1.2)  # appendfsync everysec: on disk now
            old = _valkey_pid(tmp_path)
            os.kill(old, signal.SIGKILL)
            killed = time.monotonic()
            while time.monotonic() - killed < 5:
                if http.get("/readyz").status_code == 200 and _valkey_pid(tmp_path) != old:
                    break
                time.sleep(0.05)
            back = time.monotonic() - killed
            assert back < 5, served.text()
            assert http.get("/healthz").status_code == 200
            assert _append(http, "s", 2).status_code == 201
            ids = [m["id"] for m in http.get("/v1/sessions/s/messages").json()["messages"]]
            assert ids == ["m1", "m2"]
        assert served.proc.poll() is None  # the same process: no restart of ours
        assert '"valkey.died"' in served.text()
        assert '"valkey.restarted"' in served.text()
    finally:
        assert served.stop() == 0


def test_valkey_that_cannot_come_back_fails_healthz(tmp_path: Path) -> None:
    served = Served(tmp_path, env=FAST)
    served.wait_ready()
    try:
        with served.client() as http:
            # A Valkey that cannot start: its AOF manifest is garbage.
            for manifest in (tmp_path / "valkey" / "appendonlydir").glob("*.manifest"):
                manifest.write_text("not a manifest\n")
            os.kill(_valkey_pid(tmp_path), signal.SIGKILL)
            deadline = time.monotonic() + 5
            ready = http.get("/readyz")
            while ready.json()["checks"]["valkey"] == "ok" and time.monotonic() < deadline:
                time.sleep(0.05)
                ready = http.get("/readyz")
            assert ready.status_code == 503
            assert "killed by SIGKILL; restarting" in ready.json()["checks"]["valkey"]
            append = _append(http, "s", 1)
            assert append.status_code == 503
            assert "127.0.0.1" not in append.text
            assert str(tmp_path) not in append.text
            deadline = time.monotonic() + 30
            while http.get("/healthz").status_code == 200 and time.monotonic() < deadline:
                time.sleep(0.2)
            health = http.get("/healthz")
            assert health.status_code == 503, served.text()
            assert "could not be kept running" in health.json()["reason"]
        assert '"valkey.gave_up"' in served.text()
    finally:
        served.stop()


@pytest.mark.parametrize("restarted", [False, True], ids=["first", "restarted"])
def test_valkey_dies_with_a_killed_service(tmp_path: Path, restarted: bool) -> None:
    """No orphan: neither the first Valkey (started by the main thread) nor a restarted one
    (started by the watcher thread) outlives a SIGKILLed service."""
    served = Served(tmp_path, env=FAST)
    served.wait_ready()
    valkey = _valkey_pid(tmp_path)
    if restarted:
        os.kill(valkey, signal.SIGKILL)
        assert _gone(valkey, 2)
        served.wait_ready(10)
        assert _valkey_pid(tmp_path) != valkey
        valkey = _valkey_pid(tmp_path)
    served.stop(signal.SIGKILL)
    assert _gone(valkey, 5), "the Valkey child outlived its parent"


def test_shutdown_is_bounded_with_valkey_hung(tmp_path: Path) -> None:
    served = Served(tmp_path, env=FAST)
    served.wait_ready()
    valkey = _valkey_pid(tmp_path)
    os.kill(valkey, signal.SIGSTOP)  # alive but answering nothing: worse than dead
    try:
        with served.client() as http:
            # A request that hangs on Valkey while we shut down.
            threading.Thread(target=lambda: _try(http), daemon=True).start()
            time.sleep(0.3)
            started = time.monotonic()
            served.proc.send_signal(signal.SIGTERM)
            served.wait(10)
            took = time.monotonic() - started
        assert took <= 5, f"shutdown took {took:.1f} s:\n{served.text()}"
        assert _gone(valkey, 2)
    finally:
        if not _gone(valkey, 0):
            os.kill(valkey, signal.SIGKILL)
        if served.proc.poll() is None:
            served.stop(signal.SIGKILL)


def _try(http: httpx.Client) -> None:
    with contextlib.suppress(httpx.HTTPError):
        _append(http, "hung", 1)


def test_fatal_signal_leaves_a_traceback(tmp_path: Path) -> None:
    served = Served(tmp_path, env=FAST)
    served.wait_ready()
    valkey = _valkey_pid(tmp_path)
    code = served.stop(signal.SIGSEGV)
    assert code == -signal.SIGSEGV
    assert "Fatal Python error: Segmentation fault" in served.text()
    assert "Current thread" in served.text() or "Thread 0x" in served.text()
    assert _gone(valkey, 5)
