"""One process per data dir, even across releases."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.runtime.lock import DataDirLock, DataDirLocked


def test_lock_excludes_and_survives_release_races(tmp_path: Path) -> None:
    first, second, third = (DataDirLock(tmp_path) for _ in range(3))
    first.acquire()
    with pytest.raises(DataDirLocked):
        second.acquire()
    first.release()
    assert first.path.exists()  # kept, empty: unlinking would allow two holders
    assert first.path.read_text() == ""
    second.acquire()
    with pytest.raises(DataDirLocked):
        third.acquire()
    second.release()


def test_a_pid_left_behind_is_reported_as_stale(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "cmem.pid").write_text("4242")
    lock = DataDirLock(tmp_path)
    lock.acquire()
    captured = capsys.readouterr()
    assert "runtime.stale_pid_recovered" in captured.out + captured.err
    lock.release()
