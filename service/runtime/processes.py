"""Process entry points: `cmem serve` (embedded, one process), `cmem mcp` (the same over
MCP stdio), `cmem api`, `cmem worker`."""

from __future__ import annotations

import gc
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from wsgiref.simple_server import WSGIServer

import structlog
import uvicorn
from prometheus_client import start_http_server

from service.adapters.disk_space import check_writable
from service.adapters.edge_index import EdgeIndex, ShardLocked
from service.api.app import create_app
from service.api.mcp import build_mcp
from service.domain.errors import InsufficientStorage, InvalidInput, StoreUnavailable
from service.domain.models import Principal
from service.domain.validation import check_id
from service.metrics import Metrics
from service.ports import Supervision
from service.runtime.backup import serve_backup_requests
from service.runtime.container import Container, build_container
from service.runtime.lock import DataDirLock
from service.runtime.shutdown import ShutdownDeadline
from service.runtime.valkey import EmbeddedValkey, ValkeyFailed
from service.settings import LOOPBACK_HOSTS, Settings
from workers.app import create_worker_app
from workers.runner import WorkerRunner

log = structlog.get_logger()

# Shutdown ends within 5 s (issue 14: 30 s with Valkey dead): in-flight requests get
# GRACEFUL_HTTP_S, running jobs WORKER_STOP_S, Valkey VALKEY_STOP_S to fsync; the deadline
# cuts whatever still hangs.
SHUTDOWN_S = 3.5
GRACEFUL_HTTP_S = 1
WORKER_STOP_S = 1.5
VALKEY_STOP_S = 1.0


class StartupError(Exception):
    """A problem the operator must fix before the service can start; printed, exit code 2."""


def check_data_dir(settings: Settings) -> None:
    """Refuse to start on a data dir we cannot write or that is nearly full: one clear line,
    not a traceback (or a SIGBUS at the first vector write)."""
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StartupError(f"cannot create data dir {settings.data_dir}: {exc.strerror}") from exc
    for path in (settings.data_dir, settings.edge_path):
        try:
            check_writable(path, settings.min_free_disk_mb * 2**20)
        except (InsufficientStorage, StoreUnavailable) as exc:
            raise StartupError(f"data dir {settings.data_dir}: {exc.message}") from exc


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


class _Server(uvicorn.Server):
    """uvicorn's server; the signal that starts its shutdown also arms our deadline (uvicorn
    installs its own handlers while serving, so ours would only run after its shutdown)."""

    def __init__(self, config: uvicorn.Config, deadline: ShutdownDeadline | None) -> None:
        super().__init__(config)
        self._deadline = deadline

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._deadline is not None:
            self._deadline.arm()
        super().handle_exit(sig, frame)


def serve_http(
    settings: Settings,
    container: Container,
    supervision: Supervision | None = None,
    deadline: ShutdownDeadline | None = None,
) -> None:
    """Serve the API until SIGINT/SIGTERM (uvicorn handles both and returns); `deadline` is
    armed by the signal, so shutdown is bounded even when a dependency hangs."""
    refuse_open_keyless(settings, container)
    if settings.durability == "strict":
        try:
            container.services.durability.check_supported()
        except StoreUnavailable as exc:
            raise StartupError(f"durability = strict: {exc.message}") from exc
    sock = bind(settings.host, settings.port)
    host, port = sock.getsockname()[:2]
    app = create_app(
        container.services,
        container.keys,
        container.heartbeat,
        container.metrics,
        supervision,
    )
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="on",  # it runs the MCP session manager (/mcp)
        timeout_graceful_shutdown=GRACEFUL_HTTP_S,
    )
    server = _Server(config, deadline)
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
    # What start-up built (the app, the worker, the clients: ~180 k objects) lives as long as
    # the process: frozen, the collector's full passes walk what requests leave behind only.
    # Unfrozen, one pass in about 400 contexts walked them all and paused that request by
    # ~110 ms (2-core dev machine, busy): a tail no tuning of the request path reaches.
    gc.collect()
    gc.freeze()
    server.run(sockets=[sock])


@contextmanager
def worker_running(
    settings: Settings, container: Container, broker_url: str, stop_timeout: float = 30.0
) -> Iterator[None]:
    app = create_worker_app(container.services, broker_url, container.metrics)
    runner = WorkerRunner(
        app, container.heartbeat, settings.worker_concurrency, settings.maintenance_interval_s
    )
    runner.start()
    try:
        yield
    finally:
        runner.stop(stop_timeout)


@dataclass(frozen=True, slots=True)
class Embedded:
    """The embedded runtime while it runs: the container, the watched Valkey (supervision)
    and the shutdown deadline a signal arms."""

    container: Container
    valkey: EmbeddedValkey
    deadline: ShutdownDeadline


@contextmanager
def embedded(settings: Settings) -> Iterator[Embedded]:
    """Valkey child (watched) + Qdrant Edge + in-process Celery worker, until the block ends."""
    check_data_dir(settings)
    lock = DataDirLock(settings.data_dir)
    lock.acquire()
    # Strict by setting: every write is fsynced before Valkey replies, so WAITAOF returns at
    # once (with everysec it waits for the next fsync, ~100 ms). Strict per request still works.
    valkey = EmbeddedValkey(
        settings.data_dir / "valkey",
        fsync_always=settings.durability == "strict",
        maxmemory_mb=settings.valkey_maxmemory_mb,
    )
    # SIGTERM/SIGINT arm it: whatever hangs, Valkey gets its SIGTERM and we exit in time.
    deadline = ShutdownDeadline(SHUTDOWN_S, last_words=lambda: valkey.stop(timeout=0.3))
    try:
        try:
            valkey.start()
        except ValkeyFailed as exc:
            raise StartupError(f"{exc}; see {valkey.data_dir / 'valkey.log'}") from exc
        valkey.watch()
        try:
            container = build_container(settings, valkey.connection_url)
        except ShardLocked as exc:
            raise StartupError(str(exc)) from exc
        if isinstance(container.services.index, EdgeIndex):
            serve_backup_requests(settings.data_dir, container.services.index)
        try:
            with worker_running(settings, container, valkey.connection_url, WORKER_STOP_S):
                yield Embedded(container, valkey, deadline)
                log.info("runtime.stopping")
        finally:
            container.close()
    finally:
        valkey.stop(timeout=VALKEY_STOP_S)  # SIGTERM: Valkey fsyncs its AOF before exiting
        log.info("valkey.stopped")
        lock.release()
        log.info("runtime.stopped")


def run_embedded(settings: Settings) -> None:
    """Valkey child (watched) + Qdrant Edge + in-process Celery worker + API, in one process."""
    with embedded(settings) as runtime:
        serve_http(settings, runtime.container, runtime.valkey, runtime.deadline)


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
    with embedded(settings) as runtime:
        server = build_mcp(runtime.container.services, runtime.container.keys, local)
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
    metrics_server = None
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        metrics_server = serve_worker_metrics(settings, container.metrics)
        with worker_running(settings, container, settings.redis_url):
            print("worker running", flush=True)
            stop.wait()
            log.info("worker.stopping")
    finally:
        if metrics_server is not None:
            metrics_server.shutdown()
            metrics_server.server_close()
        container.close()


def serve_worker_metrics(settings: Settings, metrics: Metrics) -> WSGIServer | None:
    """A worker serves no HTTP API: its job counters and process metrics get their own port
    (`worker_metrics_port`, on `host`; 0 = none). Returns the server, to shut it down."""
    if not settings.worker_metrics_port:
        return None
    try:
        server, _ = start_http_server(
            settings.worker_metrics_port, settings.host, registry=metrics.registry
        )
    except OSError as exc:
        raise StartupError(
            f"cannot serve worker metrics on {settings.host}:{settings.worker_metrics_port}: "
            f"{exc.strerror} (set CMEM_WORKER_METRICS_PORT, 0 for none)"
        ) from exc
    host, port = server.server_address[:2]
    log.info("worker.metrics", host=host, port=port)
    return server


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
