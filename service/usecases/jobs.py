"""Background jobs: a record that GET /v1/jobs/{id} can answer, then the queued message."""

from __future__ import annotations

import uuid
from typing import Any

from service.domain.errors import NotFound, StoreUnavailable
from service.domain.validation import check_id
from service.usecases.services import Services


def new_job_id() -> str:
    return uuid.uuid4().hex


def start_job(
    svc: Services,
    tenant: str,
    task: str,
    record: dict[str, Any],
    message: dict[str, Any],
    job_id: str | None = None,
) -> str:
    """Create the job's record first (so its id answers at once), then queue `message`."""
    job_id = job_id or new_job_id()
    svc.job_states.create(tenant, job_id, task, record)
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
