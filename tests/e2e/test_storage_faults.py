"""Storage faults are errors, not crashes: a data dir on a small tmpfs that really fills up,
a vector store made immutable under a running service, a read-only data dir at start."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harness.served import CMEM, Served

pytestmark = pytest.mark.slow

MIN_FREE_MB = 32
ENV = {"CMEM_EMBEDDING_MODEL_PATH": "hashing", "CMEM_MIN_FREE_DISK_MB": str(MIN_FREE_MB)}


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 96 MiB tmpfs: a filesystem of our own that fills up for real (needs root, as in CI)."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    mounted = subprocess.run(
        ["/usr/bin/mount", "-t", "tmpfs", "-o", "size=96m", "tmpfs", str(mnt)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["/usr/bin/umount", "-l", str(mnt)], check=False)


def _free_mb(path: Path) -> float:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize / 2**20


def _fill(disk: Path, leave_mb: float) -> Path:
    """Write a real file until only `leave_mb` MiB are free."""
    filler = disk / "filler"
    chunk = b"\0" * 2**20
    with filler.open("ab") as f:
        while _free_mb(disk) > leave_mb + 1:
            f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
    return filler


def _remount(disk: Path, mode: str) -> None:
    subprocess.run(["/usr/bin/mount", "-o", f"remount,{mode}", str(disk)], check=True)


def _append(http: httpx.Client, n: int) -> httpx.Response:
    return http.post(
        "/v1/sessions/s/messages",
        json={
            "user_id": "u",
            "messages": [{"id": f"m{n}", "role": "user", "content": f"turn {n}"}],
        },
    )


def _writes(http: httpx.Client, n: int) -> list[httpx.Response]:
    return [
        _append(http, n),
        http.post("/v1/facts", json={"user_id": "u", "text": f"fact number {n}"}),
        http.put(f"/v1/documents/d{n}", json={"text": f"document number {n} " * 20}),
    ]


def _reads_work(http: httpx.Client) -> None:
    assert http.get("/v1/sessions/s/messages").status_code == 200
    context = http.post(
        "/v1/context",
        json={"session_id": "s", "user_id": "u", "query": "turn", "budget_tokens": 500},
    )
    assert context.status_code == 200, context.text
    assert http.get("/v1/facts", params={"user_id": "u"}).status_code == 200


def _ids(http: httpx.Client) -> list[str]:
    return [m["id"] for m in http.get("/v1/sessions/s/messages").json()["messages"]]


def test_full_disk_refuses_writes_keeps_reads_and_recovers(small_disk: Path) -> None:
    served = Served(small_disk / "data", env=ENV)
    served.wait_ready()
    try:
        with served.client() as http:
            assert all(r.status_code in (200, 201, 202) for r in _writes(http, 1))
            filler = _fill(small_disk, MIN_FREE_MB / 2)
            for r in _writes(http, 2):
                assert r.status_code == 507, r.text
                error = r.json()["error"]
                assert error["code"] == "insufficient_storage"
                assert "MiB free" in error["message"]
                assert str(small_disk) not in r.text
            assert _ids(http) == ["m1"]  # nothing half written
            _reads_work(http)
            assert http.get("/v1/facts", params={"user_id": "u"}).json()["facts"][0]["text"] == (
                "fact number 1"
            )
            filler.unlink()
            assert all(r.status_code in (200, 201, 202) for r in _writes(http, 3))
            assert _ids(http) == ["m1", "m3"]
        assert served.proc.poll() is None  # 0 process deaths
    finally:
        assert served.stop() == 0


def _chattr(flag: str, path: Path) -> None:
    subprocess.run(["/usr/bin/chattr", "-R", flag, str(path)], check=True)


def test_vector_store_made_immutable_refuses_writes_keeps_reads(tmp_path: Path) -> None:
    """The issue's case: `chattr -R +i DATA/qdrant` under a running service (it used to end
    in SIGBUS on the next write)."""
    served = Served(tmp_path, env=ENV)
    served.wait_ready()
    try:
        with served.client() as http:
            assert _append(http, 1).status_code == 201
            try:
                _chattr("+i", tmp_path / "qdrant")
            except (subprocess.CalledProcessError, FileNotFoundError) as exc:
                pytest.skip(f"chattr +i is not available here: {exc}")
            try:
                for r in _writes(http, 2):
                    assert r.status_code == 503, r.text
                    assert "not writable" in r.json()["error"]["message"]
                _reads_work(http)
                assert _ids(http) == ["m1"]
            finally:
                _chattr("-i", tmp_path / "qdrant")
            assert _append(http, 3).status_code == 201
        assert served.proc.poll() is None
    finally:
        assert served.stop() == 0


def _start_fails(data_dir: Path) -> str:
    done = subprocess.run(
        [CMEM, "serve", "--port", "0", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        env={**os.environ, **ENV},
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    return lines[0]


def test_start_refused_on_a_nearly_full_data_dir(small_disk: Path) -> None:
    _fill(small_disk, MIN_FREE_MB / 2)
    line = _start_fails(small_disk / "data")
    assert "MiB free, below the 32 MiB minimum" in line


def test_start_refused_on_an_unwritable_data_dir(small_disk: Path) -> None:
    (small_disk / "data").mkdir()
    _remount(small_disk, "ro")
    try:
        line = _start_fails(small_disk / "data")
    finally:
        _remount(small_disk, "rw")
    assert "not writable" in line


def test_valkey_full_is_507_not_eviction(tmp_path: Path) -> None:
    """maxmemory with noeviction: past it writes get 507 and everything stored stays."""
    served = Served(tmp_path, env={**ENV, "CMEM_VALKEY_MAXMEMORY_MB": "3"})
    served.wait_ready()
    try:
        with served.client() as http:
            stored = 0
            for n in range(2000):
                r = http.post(
                    "/v1/sessions/big/messages",
                    json={
                        "user_id": "u",
                        "messages": [{"id": f"m{n}", "role": "user", "content": "x" * 20_000}],
                    },
                )
                if r.status_code != 201:
                    break
                stored += 1
            assert r.status_code == 507, r.text
            assert r.json()["error"]["code"] == "insufficient_storage"
            assert "out of memory" in r.json()["error"]["message"]
            assert stored > 10
            assert http.get("/v1/sessions/big").json()["messages"] == stored  # no eviction
            assert http.get("/readyz").status_code in (200, 503)  # answers either way
        assert served.proc.poll() is None
    finally:
        served.stop()
