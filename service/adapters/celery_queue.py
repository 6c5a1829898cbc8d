"""CeleryJobQueue: sends jobs by stable task name to the Celery broker (Redis/Valkey)."""

from __future__ import annotations

import uuid
from typing import Any

import redis
import structlog
from celery import Celery

from service.adapters.redis_client import redis_errors
from service.domain.errors import StoreUnavailable

QUEUE = "cmem"
REQUEST_ID_HEADER = "request_id"  # a message header, read back by the worker's task class


def celery_config(broker_url: str) -> dict[str, Any]:
    """The one Celery configuration, shared by the producer here and the workers."""
    return {
        "broker_url": broker_url,
        "task_default_queue": QUEUE,
        "task_serializer": "json",
        "accept_content": ["json"],
        "task_ignore_result": True,
        # A job is acknowledged only when done; a worker lost mid-job hands it back.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "broker_connection_retry_on_startup": True,
        # socket_timeout bounds every broker read: kombu's channel close waits for a pending
        # BRPOP reply, and without it a worker's shutdown could hang forever (seen in CI).
        # BRPOP itself polls for 1 s, so 10 s never fires in normal operation.
        "broker_transport_options": {"visibility_timeout": 3600, "socket_timeout": 10},
        "worker_hijack_root_logger": False,
        "worker_send_task_events": False,
        "task_send_sent_event": False,
    }


def producer_app(broker_url: str) -> Celery:
    """A Celery app that only sends; the task code lives in the workers."""
    app = Celery("cmem-producer", set_as_current=False)
    app.conf.update(celery_config(broker_url))
    return app


class CeleryJobQueue:
    """Implements JobQueue with Celery's send_task (no import of the task code)."""

    def __init__(self, app: Celery, client: redis.Redis) -> None:
        self._app = app
        self._r = client

    def enqueue(self, task: str, kwargs: dict[str, Any]) -> str:
        job_id = str(uuid.uuid4())
        # The request that queued the job: its log lines in the worker carry the same id.
        request_id = structlog.contextvars.get_contextvars().get("request_id")
        headers = {REQUEST_ID_HEADER: request_id} if request_id else None
        try:
            self._app.send_task(task, kwargs=kwargs, task_id=job_id, queue=QUEUE, headers=headers)
        except Exception as exc:  # kombu raises many transport-specific types
            raise StoreUnavailable("broker", f"could not enqueue {task}") from exc
        return job_id

    def ping(self) -> None:
        with redis_errors():
            self._r.ping()

    def depth(self) -> int:
        with redis_errors():
            return int(self._r.llen(QUEUE))
