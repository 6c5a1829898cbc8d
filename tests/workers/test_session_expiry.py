"""session_ttl_s: a session not written to for that long goes with all its data."""

from __future__ import annotations

import dataclasses
import time

from service.domain.models import NewMessage
from service.domain.points import session_turns_filter
from service.runtime.container import Container
from service.usecases import sessions
from workers.runner import WorkerRunner


def _append(svc, tenant: str, session_id: str) -> None:  # type: ignore[no-untyped-def]
    turns = [
        NewMessage(role="user", content=f"{session_id} turn {i}", id=f"m{i}") for i in range(3)
    ]
    sessions.append_messages(svc, tenant, session_id, "u", turns)


def _indexed(container: Container, tenant: str, session_id: str) -> int:
    return container.services.index.count(session_turns_filter(tenant, session_id))


def test_idle_sessions_expire_with_their_data(
    container: Container, worker: WorkerRunner, tenant: str
) -> None:
    svc = dataclasses.replace(
        container.services,
        settings=container.services.settings.model_copy(update={"session_ttl_s": 1}),
    )
    _append(svc, tenant, "old")
    deadline = time.monotonic() + 20
    while _indexed(container, tenant, "old") < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _indexed(container, tenant, "old") == 3
    assert sessions.expire_idle_sessions(svc) == 0  # not idle long enough yet
    time.sleep(1.1)
    _append(svc, tenant, "fresh")

    assert sessions.expire_idle_sessions(svc) == 1
    assert svc.sessions.info(tenant, "old") is None
    assert _indexed(container, tenant, "old") == 0
    assert svc.sessions.info(tenant, "fresh") is not None
    assert sessions.expire_idle_sessions(svc) == 0


def test_sessions_never_expire_by_default(container: Container, tenant: str) -> None:
    _append(container.services, tenant, "s")
    assert container.services.settings.session_ttl_s == 0
    assert sessions.expire_idle_sessions(container.services) == 0
    assert container.services.sessions.info(tenant, "s") is not None
