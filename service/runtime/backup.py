"""`cmem backup` and `cmem restore`: a consistent copy of an embedded data dir, also while
it is served.

While `cmem serve` runs, Valkey writes an RDB snapshot (BGSAVE, asked for over its password)
and the serving process copies the Edge shard with its writes held (asked for by SIGUSR1:
one process owns a shard). With the service stopped, the files are copied as they are.
The archive (tar.gz) holds `valkey/dump.rdb` or `valkey/appendonlydir`, `qdrant/<collection>`
and the API key file.
"""

from __future__ import annotations

import os
import shutil
import signal
import tarfile
import tempfile
import threading
import time
from pathlib import Path

import redis
import structlog

from service.adapters.edge_index import EdgeIndex
from service.runtime.lock import DataDirLock, DataDirLocked
from service.runtime.valkey import EmbeddedValkey, password
from service.settings import Settings

log = structlog.get_logger()

REQUEST = "backup.request"  # the serving process copies its shard to the path written here
DONE = ".done"
FAILED = ".failed"
WAIT_S = 120.0


class BackupFailed(Exception):
    """The backup or restore could not be made; the message says why."""


def serve_backup_requests(data_dir: Path, index: EdgeIndex) -> None:
    """In `cmem serve`: on SIGUSR1, copy the Edge shard to the path in <data_dir>/backup.request
    (in a thread: a signal handler must not block)."""

    def copy() -> None:
        dest = data_dir / "backup.shard"
        try:
            dest = Path((data_dir / REQUEST).read_text().strip())
            index.copy_to(dest)
            Path(str(dest) + DONE).touch()
            log.info("backup.shard_copied")
        except Exception as exc:  # reported to the waiting `cmem backup`, never fatal here
            log.exception("backup.shard_copy_failed")
            with open(str(dest) + FAILED, "w") as f:
                f.write(f"{type(exc).__name__}: {exc}")

    signal.signal(signal.SIGUSR1, lambda *_: threading.Thread(target=copy, daemon=True).start())


def backup(settings: Settings, to: Path) -> str:
    """Write the archive; returns how it was taken ("live" or "offline")."""
    lock = DataDirLock(settings.data_dir)
    try:
        lock.acquire()
    except DataDirLocked:
        with tempfile.TemporaryDirectory(dir=settings.data_dir) as staging:
            _live(settings, Path(staging))
            _archive(Path(staging), settings, to)
        return "live"
    try:
        with tempfile.TemporaryDirectory(dir=settings.data_dir) as staging:
            root = Path(staging)
            valkey = settings.data_dir / "valkey" / "appendonlydir"
            if valkey.exists():
                shutil.copytree(valkey, root / "valkey" / "appendonlydir")
            if settings.edge_path.exists():
                shutil.copytree(settings.edge_path, root / "qdrant" / settings.collection)
            _archive(root, settings, to)
    finally:
        lock.release()
    return "offline"


def _live(settings: Settings, staging: Path) -> None:
    valkey_dir = settings.data_dir / "valkey"
    client = redis.Redis(
        host="127.0.0.1", port=_port(valkey_dir), password=password(valkey_dir), socket_timeout=10
    )
    try:
        saves = int(client.info("persistence")["rdb_saves"])
        client.bgsave()
        deadline = time.monotonic() + WAIT_S
        while True:
            info = client.info("persistence")
            if int(info["rdb_saves"]) > saves and not int(info["rdb_bgsave_in_progress"]):
                break
            if time.monotonic() > deadline:
                raise BackupFailed("Valkey's snapshot (BGSAVE) did not finish in time")
            time.sleep(0.05)
        if info["rdb_last_bgsave_status"] != "ok":
            raise BackupFailed("Valkey's snapshot (BGSAVE) failed: see valkey.log")
    except redis.exceptions.ConnectionError as exc:
        raise BackupFailed(f"cannot reach the data dir's Valkey: {exc}") from exc
    finally:
        client.close()
    (staging / "valkey").mkdir()
    shutil.copy2(valkey_dir / "dump.rdb", staging / "valkey" / "dump.rdb")
    # Then the shard, by the serving process (vectors a little newer than the snapshot are
    # harmless: a turn's vector is served only while its turn is in the log).
    shard = staging / "qdrant" / settings.collection
    shard.parent.mkdir()
    (settings.data_dir / REQUEST).write_text(str(shard))
    os.kill(int((settings.data_dir / "cmem.pid").read_text().strip()), signal.SIGUSR1)
    deadline = time.monotonic() + WAIT_S
    while not Path(str(shard) + DONE).exists():
        failed = Path(str(shard) + FAILED)
        if failed.exists():
            raise BackupFailed(f"the service could not copy its vector store: {failed.read_text()}")
        if time.monotonic() > deadline:
            raise BackupFailed("the service did not copy its vector store in time")
        time.sleep(0.05)
    (settings.data_dir / REQUEST).unlink(missing_ok=True)


def _port(valkey_dir: Path) -> int:
    for line in (valkey_dir / "valkey.conf").read_text().splitlines():
        if line.startswith("port "):
            return int(line.split()[1])
    raise BackupFailed("no Valkey port in valkey.conf: is this an embedded data dir?")


def _archive(staging: Path, settings: Settings, to: Path) -> None:
    if settings.keys_path.exists():
        shutil.copy2(settings.keys_path, staging / "api_keys.json")
    partial = to.with_name(to.name + ".partial")
    with tarfile.open(partial, "w:gz") as tar:
        for name in ("valkey", "qdrant", "api_keys.json"):
            if (staging / name).exists():
                tar.add(staging / name, arcname=name)
    partial.replace(to)  # a half-written archive never has the final name


def restore(settings: Settings, archive: Path) -> None:
    """Unpack into an empty data dir; an RDB snapshot becomes the AOF the service runs on."""
    data_dir = settings.data_dir
    if data_dir.exists() and any(data_dir.iterdir()):
        raise BackupFailed(f"{data_dir} is not empty: restore into a new data dir")
    data_dir.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:gz") as tar:
        tar.extractall(data_dir, filter="data")
    qdrant = data_dir / "qdrant"
    if qdrant.exists() and settings.collection not in {p.name for p in qdrant.iterdir()}:
        raise BackupFailed(f"the archive has no vector collection {settings.collection!r}")
    if (data_dir / "valkey" / "dump.rdb").exists():
        _rdb_to_aof(data_dir / "valkey")


def _rdb_to_aof(valkey_dir: Path) -> None:
    """Valkey with the AOF on ignores dump.rdb when it finds no AOF: load the RDB with the AOF
    off, switch it on (Valkey rewrites the dataset into a fresh AOF), stop."""
    valkey_dir.chmod(0o700)
    server = EmbeddedValkey(valkey_dir, aof=False)
    server.start()
    try:
        client = server.client()
        client.config_set("appendonly", "yes")
        deadline = time.monotonic() + WAIT_S
        while True:
            info = client.info("persistence")
            done = int(info["aof_enabled"]) and not int(info["aof_rewrite_in_progress"])
            if done and not int(info["aof_rewrite_scheduled"]):
                break
            if time.monotonic() > deadline:
                raise BackupFailed("Valkey did not write its AOF from the snapshot in time")
            time.sleep(0.05)
        client.close()
    finally:
        server.stop()
    (valkey_dir / "dump.rdb").unlink()
