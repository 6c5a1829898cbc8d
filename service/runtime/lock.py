"""One `cmem serve` per data dir: an flock'ed pid file, which a crash releases by itself."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

import structlog

log = structlog.get_logger()


class DataDirLocked(Exception):
    """Another live process serves this data dir."""


class DataDirLock:
    """Holds an exclusive lock on <data_dir>/cmem.pid for the life of the process."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "cmem.pid"
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        previous = self.path.read_text().strip() if self.path.exists() else ""
        f = self.path.open("a+")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.close()
            raise DataDirLocked(
                f"data dir {self.path.parent} is in use by another cmem process (pid "
                f"{previous or '?'}); stop it, or pass a different --data-dir"
            ) from None
        if previous:
            # The lock was free but a pid was written: the last run did not shut down cleanly.
            log.warning(
                "runtime.stale_pid_recovered", previous_pid=previous, pidfile=str(self.path)
            )
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        self._file = f

    def release(self) -> None:
        if self._file is None:
            return
        self._file.seek(0)
        self._file.truncate()
        # The file stays (empty): unlinking it would let a starter that opened the old file
        # and one that creates a new one both hold "the" lock.
        fcntl.flock(self._file, fcntl.LOCK_UN)
        self._file.close()
        self._file = None
