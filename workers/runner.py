"""Runs a Celery worker in a thread of this process, with a heartbeat for readiness."""

from __future__ import annotations

import os
import socket
import threading
import time
from typing import Any

import structlog
from celery import Celery

from service import tasks
from service.domain.errors import StoreUnavailable
from service.ports import Heartbeat

log = structlog.get_logger()


class WorkerRunner:
    """Start/stop a thread-pool Celery worker; stop() is a warm shutdown (running jobs finish)."""

    def __init__(
        self,
        app: Celery,
        heartbeat: Heartbeat,
        concurrency: int,
        maintenance_interval_s: float = 30.0,
    ) -> None:
        self._app = app
        self._maintenance_s = maintenance_interval_s
        # Pool threads start without a current app and resolve task names through the process's
        # default app (Celery's own worker does the same): one worker app per process.
        app.set_current()
        app.set_default()
        self._heartbeat = heartbeat
        self._name = f"cmem@{socket.gethostname()}:{os.getpid()}"
        self._worker: Any = app.WorkController(
            pool_cls="threads",
            concurrency=concurrency,
            hostname=self._name,
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
            loglevel="WARNING",
        )
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        work = threading.Thread(target=self._worker.start, name="celery-worker", daemon=True)
        beat = threading.Thread(target=self._beat, name="worker-heartbeat", daemon=True)
        self._threads = [work, beat]
        for thread in self._threads:
            thread.start()
        # Turns appended while no worker ran (crash, broker outage) get indexed now, and
        # resumable jobs a crashed worker held (re-index) go on where they stopped.
        self._app.send_task(tasks.RECONCILE_MESSAGES)
        self._app.send_task(tasks.RESUME_JOBS)
        # Turns and facts indexed before the `scope` field get it (a no-op once done).
        self._app.send_task(tasks.BACKFILL_SCOPES)
        # Sessions of earlier releases get into the session index's per-user view (once).
        self._app.send_task(tasks.BACKFILL_SESSION_INDEX)
        # The operator counters: facts written before they were counted get counted; the vector
        # counts the gauges and the console read are made (then kept by the maintenance tick).
        self._app.send_task(tasks.RECOUNT_FACTS)
        self._app.send_task(tasks.RECOUNT_VECTORS)
        log.info("worker.started", worker=self._name)

    def _beat(self) -> None:
        """Heartbeat for readiness; every maintenance interval, queue the stale-chunk sweep, the
        resume of open jobs whose worker died (their lease lapsed), and the other upkeep."""
        interval = max(1, self._heartbeat.ttl_s // 3)
        next_sweep = time.monotonic() + self._maintenance_s
        while not self._stop.is_set():
            try:
                self._heartbeat.beat(self._name)
                if time.monotonic() >= next_sweep:
                    self._app.send_task(tasks.SWEEP_DOCUMENTS)
                    self._app.send_task(tasks.RESUME_JOBS)
                    self._app.send_task(tasks.EXPIRE_SESSIONS)
                    self._app.send_task(tasks.REDACT_FACTS)
                    self._app.send_task(tasks.RECOUNT_VECTORS)  # when due (the task checks)
                    next_sweep = time.monotonic() + self._maintenance_s
            except StoreUnavailable:
                log.warning("worker.heartbeat_failed", worker=self._name)
            except Exception:  # the broker: the heartbeat thread must outlive an outage
                log.exception("worker.maintenance_enqueue_failed", worker=self._name)
            self._stop.wait(min(interval, self._maintenance_s))

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._worker.stop(in_sighandler=False, exitcode=0)
        for thread in self._threads:
            thread.join(timeout)
        # kombu's hub makes its wake-up socket pair lazily, in the loop thread: a loop that got
        # going after the worker's own stop step closed the hub would leave the pair open.
        hub = getattr(self._worker, "hub", None)
        if hub is not None:
            hub.close()
        log.info("worker.stopped", worker=self._name)
