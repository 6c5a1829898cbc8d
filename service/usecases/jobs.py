"""Background jobs: a record that GET /v1/jobs/{id} can answer, then the queued message."""

from __future__ import annotations

import uuid
from typing import Any

import structlog

from service.domain.errors import NotFound, StoreUnavailable
from service.domain.validation import check_id
from service.usecases.services import Services

log = structlog.get_logger()


def new_job_id() -> str:
    return uuid.uuid4().hex


def start_job(
    svc: Services,
    tenant: str,
    task: str,
    record: dict[str, Any],
    message: dict[str, Any],
    job_id: str | None = None,
    resumable: bool = False,
) -> str:
    """Create the job's record first (so its id answers at once), then queue `message`.

    A resumable job is registered as open until it finishes; a worker that starts re-queues
    the open jobs nobody holds a lease on (see `resume_open_jobs`).
    """
    job_id = job_id or new_job_id()
    svc.job_states.create(tenant, job_id, task, record, resumable)
    try:
        svc.jobs.enqueue(task, {**message, "job_id": job_id})
    except StoreUnavailable as exc:
        svc.job_states.update(tenant, job_id, state="failed", error=exc.message)
        raise
    return job_id


def get_job(svc: Services, tenant: str, job_id: str) -> dict[str, Any]:
    check_id(job_id, "job_id")
    job = svc.job_states.get(tenant, job_id)
    if job is None:
        raise NotFound(f"job {job_id!r} not found")
    return job


def resume_open_jobs(svc: Services) -> list[str]:
    """Re-queue every open resumable job that no live worker holds (after a crash).

    Safe to run on every worker start: a job runs only under its lease, so a duplicate
    message finds the lease taken (or the job done) and returns at once.
    """
    resumed: list[str] = []
    for tenant, job_id in svc.job_states.open_jobs():
        job = svc.job_states.get(tenant, job_id)
        if job is None or job["state"] in ("done", "failed"):
            svc.job_states.close(tenant, job_id)
            continue
        if svc.job_states.leased(tenant, job_id):
            continue
        svc.jobs.enqueue(str(job["kind"]), {"job_id": job_id, "tenant": tenant})
        resumed.append(job_id)
    if resumed:
        log.info("jobs.resumed", jobs=resumed)
    return resumed
