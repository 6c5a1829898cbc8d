"""Process entry points: `cmem serve` (embedded, one process), `cmem mcp` (the same over
MCP stdio), `cmem api`, `cmem worker`."""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import structlog
import uvicorn

from service.adapters.edge_index import EdgeIndex, ShardLocked
from service.api.app import create_app
from service.api.mcp import build_mcp
from service.domain.errors import InvalidInput, StoreUnavailable
from service.domain.models import Principal
from service.domain.validation import check_id
from service.runtime.container import Container, build_container
from service.runtime.lock import DataDirLock
from service.runtime.valkey import start_valkey
from service.settings import LOOPBACK_HOSTS, Settings
from workers.app import create_worker_app
from workers.runner import WorkerRunner

log = structlog.get_logger()


class StartupError(Exception):
    """A problem the operator must fix before the service can start; printed, exit code 2."""


def refuse_open_keyless(settings: Settings, container: Container) -> None:
    try:
        configured = container.keys.configured()
    except StoreUnavailable as exc:
        raise StartupError(exc.message) from exc
    if not configured and settings.host not in LOOPBACK_HOSTS:
        raise StartupError(
            f"refusing to bind {settings.host} with no API keys configured: create one with "
            f"`cmem keys create --tenant T --role admin` or bind 127.0.0.1"
        )


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit this. uvicorn sets no TCP_NODELAY on sockets it is handed, and
    # without it every keep-alive response waits ~40 ms (Nagle + delayed ACK): measured 44 ms vs
    # 0.8 ms for a trivial GET.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    sock.listen(2048)
    return sock


def serve_http(settings: Settings, container: Container) -> None:
    """Serve the API until SIGINT/SIGTERM (uvicorn handles both and returns)."""
    refuse_open_keyless(settings, container)
    sock = bind(settings.host, settings.port)
    host, port = sock.getsockname()[:2]
    app = create_app(container.services, container.keys, container.heartbeat)
    # lifespan on: it runs the MCP session manager (/mcp).
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    # After its graceful shutdown uvicorn re-raises the signal it caught, under the handlers that
    # were in place before it started. With these in place that re-raise is harmless, and the
    # caller still gets to stop the worker and Valkey cleanly.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, server.handle_exit)
    shown = f"[{host}]" if ":" in host else host
    # One write: print() writes the text and the newline separately, and a log line from
    # another thread (same pipe when stderr is merged) could land in between.
    sys.stdout.write(f"listening on http://{shown}:{port}\n")
    sys.stdout.flush()
    log.info("api.listening", host=host, port=port, docs=f"http://{shown}:{port}/docs")
    server.run(sockets=[sock])


@contextmanager
def worker_running(settings: Settings, container: Container, broker_url: str) -> Iterator[None]:
    app = create_worker_app(container.services, broker_url)
    runner = WorkerRunner(
        app, container.heartbeat, settings.worker_concurrency, settings.maintenance_interval_s
    )
    runner.start()
    try:
        yield
    finally:
        runner.stop()


@contextmanager
def embedded(settings: Settings) -> Iterator[Container]:
    """Valkey child + Qdrant Edge + in-process Celery worker, until the block ends."""
    lock = DataDirLock(settings.data_dir)
    lock.acquire()
    valkey = None
    try:
        valkey = start_valkey(settings.data_dir / "valkey")
        try:
            container = build_container(settings, valkey.connection_url)
        except ShardLocked as exc:
            raise StartupError(str(exc)) from exc
        try:
            with worker_running(settings, container, valkey.connection_url):
                yield container
                log.info("runtime.stopping")
        finally:
            container.close()
    finally:
        if valkey is not None:
            valkey.stop(timeout=15)  # SIGTERM: Valkey fsyncs its AOF before exiting
            log.info("valkey.stopped")
        lock.release()
        log.info("runtime.stopped")


def run_embedded(settings: Settings) -> None:
    """Valkey child + Qdrant Edge + in-process Celery worker + API, in one process."""
    with embedded(settings) as container:
        serve_http(settings, container)


def run_mcp_stdio(settings: Settings, tenant: str) -> None:
    """`cmem mcp`: the embedded service speaking MCP over stdin/stdout, as `tenant` (a local
    process is trusted like the CLI: it has the data dir)."""
    try:
        local = Principal(tenant=check_id(tenant, "tenant"), roles=frozenset({"client"}))
    except InvalidInput as exc:
        raise StartupError(exc.message) from exc
    # stdout is the MCP wire: until the server owns it, whatever writes to fd 1 (this process
    # or a child started now) writes to stderr instead.
    wire = os.dup(1)
    os.dup2(2, 1)
    with embedded(settings) as container:
        server = build_mcp(container.services, container.keys, local)
        os.dup2(wire, 1)
        os.close(wire)
        log.info("mcp.serving", transport="stdio", tenant=tenant)
        server.run("stdio")


def _require_production_urls(settings: Settings, role: str) -> None:
    missing = [name for name in ("redis_url", "qdrant_url") if not getattr(settings, name)]
    if missing:
        raise StartupError(
            f"`cmem {role}` runs against shared stores: set "
            + " and ".join(f"CMEM_{n.upper()}" for n in missing)
            + " (or use `cmem serve` for the embedded single-process service)"
        )


def run_api(settings: Settings) -> None:
    _require_production_urls(settings, "api")
    container = build_container(settings, settings.redis_url)
    try:
        serve_http(settings, container)
    finally:
        container.close()


def run_worker(settings: Settings) -> None:
    _require_production_urls(settings, "worker")
    container = build_container(settings, settings.redis_url)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        with worker_running(settings, container, settings.redis_url):
            print("worker running", flush=True)
            stop.wait()
            log.info("worker.stopping")
    finally:
        container.close()


def optimize_embedded(settings: Settings) -> None:
    """Build HNSW for the embedded Qdrant Edge shard, with the service stopped.

    Qdrant Edge never optimizes by itself, and optimize() holds the GIL for its whole run
    (measured: 1.6 s at 15k points, 91 s at 100k), so it cannot run inside a serving process.
    """
    lock = DataDirLock(settings.data_dir)
    lock.acquire()
    try:
        path = settings.edge_path
        if not path.exists():
            raise StartupError(f"no vector store at {path}")
        index = EdgeIndex(path, dimension=0)
        started = time.monotonic()
        changed = index.optimize()
        index.close()
        took = time.monotonic() - started
        print(f"optimized {path} in {took:.1f} s" if changed else f"{path} was already optimal")
    finally:
        lock.release()
