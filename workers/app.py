"""The Celery worker app: one task per name in `service.tasks` (names are an API)."""

from __future__ import annotations

import time
from typing import Any

import structlog
from celery import Celery, Task

from service import tasks
from service.adapters.celery_queue import REQUEST_ID_HEADER, celery_config
from service.domain.errors import InsufficientStorage, StoreUnavailable
from service.metrics import Metrics
from service.usecases import (
    admin,
    compaction,
    documents,
    extraction,
    indexing,
    jobs,
    lineage,
    migrations,
    observability,
    retention,
    sessions,
)
from service.usecases import reindex as reindex_uc
from service.usecases.services import Services

log = structlog.get_logger()

RETRY = {
    "autoretry_for": (StoreUnavailable, InsufficientStorage),  # both pass: retry later
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "max_retries": 20,
}


def create_worker_app(svc: Services, broker_url: str, metrics: Metrics | None = None) -> Celery:
    """A worker app whose tasks close over the process's services (passed in, not global);
    `metrics`: the registry its job counters go to (the process's, shared with the API)."""

    counted = metrics or Metrics()

    class JobTask(Task):  # type: ignore[misc]
        """Binds the queuing request's id into the job's log lines, counts outcomes, and marks
        the job record failed when the task finally fails (a bug, or retries used up), so
        GET /v1/jobs/{id} never shows a dead job as queued or running forever."""

        def before_start(self, task_id: str, args: Any, kwargs: Any) -> None:
            request_id = self.request.get(REQUEST_ID_HEADER) or task_id
            structlog.contextvars.bind_contextvars(
                request_id=request_id, task=self.name, task_id=task_id
            )
            self.request.cmem_started = time.monotonic()

        def after_return(
            self, status: str, retval: Any, task_id: str, args: Any, kwargs: Any, einfo: Any
        ) -> None:
            started = getattr(self.request, "cmem_started", None)
            if started is not None:
                counted.job_seconds.labels(self.name).observe(time.monotonic() - started)
            structlog.contextvars.unbind_contextvars("request_id", "task", "task_id")

        def on_success(self, retval: Any, task_id: str, args: Any, kwargs: Any) -> None:
            counted.jobs.labels(self.name, "success").inc()

        def on_retry(
            self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
        ) -> None:
            counted.jobs.labels(self.name, "retry").inc()
            log.warning("jobs.retrying", error=repr(exc))

        def on_failure(
            self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
        ) -> None:
            counted.jobs.labels(self.name, "failure").inc()
            if isinstance(kwargs, dict) and "job_id" in kwargs and "tenant" in kwargs:
                try:
                    svc.job_states.update(
                        kwargs["tenant"], kwargs["job_id"], state="failed", error=repr(exc)
                    )
                    svc.job_states.close(kwargs["tenant"], kwargs["job_id"])
                except StoreUnavailable:
                    log.warning("jobs.fail_record_lost", job_id=kwargs["job_id"])
            log.error("jobs.failed", task=self.name, task_id=task_id, error=repr(exc))

    app = Celery("cmem-worker", set_as_current=False, task_cls=JobTask)
    app.conf.update(celery_config(broker_url))
    # shared=False: a shared task is registered process-wide and every app created later gets
    # the first one's callable, bound to that app's services.

    @app.task(name=tasks.INDEX_MESSAGES, shared=False, **RETRY)
    def index_messages(tenant: str, session_id: str, epoch: int, message_ids: list[str]) -> int:
        return indexing.index_messages(svc, tenant, session_id, epoch, message_ids)

    @app.task(name=tasks.EXTRACT_FACTS, shared=False, **RETRY)
    def extract_facts(
        tenant: str, session_id: str, epoch: int, message_ids: list[str]
    ) -> dict[str, object]:
        done = extraction.extract_session_facts(svc, tenant, session_id, epoch, message_ids)
        counted.facts_over_quota.inc(done.over_quota)
        return {"status": done.status, "found": done.found, **done.placed}

    @app.task(name=tasks.REDERIVE_FACTS, shared=False, **RETRY)
    def rederive_facts(tenant: str, fact_ids: list[str]) -> dict[str, list[str]]:
        done = lineage.rederive_facts(svc, tenant, fact_ids)
        counted.facts_over_quota.inc(done.over_quota)
        return {"retired": done.retired, "rederived": done.rederived, "promoted": done.promoted}

    @app.task(name=tasks.REBUILD_SUMMARY, shared=False, **RETRY)
    def rebuild_summary(tenant: str, session_id: str, epoch: int, seq: int) -> dict[str, object]:
        return compaction.rebuild_summary(svc, tenant, session_id, epoch, seq)

    @app.task(name=tasks.INGEST, shared=False, **RETRY)
    def ingest_document(
        job_id: str, tenant: str, doc_id: str, version: str, sequence: int, expires_at: int
    ) -> str:
        result = documents.run_ingest_job(
            svc, job_id, tenant, doc_id, version, sequence, expires_at
        )
        return str(result["status"])

    @app.task(name=tasks.INVALIDATE, shared=False, **RETRY)
    def invalidate(
        job_id: str,
        tenant: str,
        action: admin.Action,
        targets: list[dict[str, Any]],
        caches: bool,
        users: list[str] | None = None,
        sessions: list[str] | None = None,
        cutoff_ms: int = 0,
    ) -> dict[str, int]:
        return admin.run_invalidation(
            svc, job_id, tenant, action, targets, caches, users, sessions, cutoff_ms
        )

    @app.task(name=tasks.COMPACT, shared=False, **RETRY)
    def compact(tenant: str, session_id: str, epoch: int) -> dict[str, object]:
        return compaction.compact_session(svc, tenant, session_id, epoch)

    @app.task(name=tasks.RECONCILE_MESSAGES, shared=False, **RETRY)
    def reconcile() -> int:
        return indexing.reconcile_pending(svc)

    @app.task(name=tasks.BACKFILL_SCOPES, shared=False, **RETRY)
    def backfill_scopes() -> int:
        return migrations.backfill_scopes(svc)

    @app.task(name=tasks.BACKFILL_SESSION_INDEX, shared=False, **RETRY)
    def backfill_session_index() -> int:
        return migrations.backfill_session_index(svc)

    @app.task(name=tasks.REINDEX, shared=False, **RETRY)
    def reindex(job_id: str, tenant: str) -> dict[str, Any]:
        return reindex_uc.run_reindex(svc, job_id, tenant)

    @app.task(name=tasks.RESUME_JOBS, shared=False, **RETRY)
    def resume() -> list[str]:
        return jobs.resume_open_jobs(svc)

    @app.task(name=tasks.SWEEP_DOCUMENTS, shared=False, **RETRY)
    def sweep() -> dict[str, int]:
        return documents.sweep_stale(svc, svc.settings.stale_grace_s)

    @app.task(name=tasks.EXPIRE_SESSIONS, shared=False, **RETRY)
    def expire_sessions() -> int:
        return sessions.expire_idle_sessions(svc)

    @app.task(name=tasks.REDACT_FACTS, shared=False, **RETRY)
    def redact_facts() -> int:
        return retention.redact_retired_facts(svc)

    @app.task(name=tasks.RECOUNT_VECTORS, shared=False, **RETRY)
    def recount_vectors(force: bool = False) -> dict[str, object] | None:
        done = observability.recount_vectors(svc, force)
        return None if done is None else {"points": done.points, "stale": done.stale_chunks}

    @app.task(name=tasks.RECOUNT_FACTS, shared=False, **RETRY)
    def recount_facts() -> int:
        return len(observability.recount_facts(svc))

    return app
