"""Read models of the operator console: each page's data as one typed result.

The console's handlers only render these; every store read goes through the ports here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from service.domain.documents import Document, LiveVersion
from service.domain.errors import NotFound
from service.domain.models import Fact, Message, SessionInfo
from service.domain.summaries import Summary
from service.domain.validation import check_id
from service.ports import Heartbeat
from service.usecases import observability
from service.usecases.services import Services

RECENT_JOBS = 50
TIMELINE_TURNS = 200  # per page of a session's timeline
SNAPSHOTS_LISTED = 20


@dataclass(frozen=True, slots=True)
class Overview:
    status: observability.ServiceStatus
    failed_jobs: list[dict[str, Any]]
    running_jobs: int


def overview(svc: Services, heartbeat: Heartbeat, tenant: str) -> Overview:
    """Counters and the recent jobs only: nothing here scans the vector index."""
    jobs = svc.job_states.recent(tenant, RECENT_JOBS)
    return Overview(
        status=observability.service_status(svc, heartbeat, tenant),
        failed_jobs=[j for j in jobs if j.get("state") == "failed"][:10],
        running_jobs=sum(1 for j in jobs if j.get("state") in ("queued", "running")),
    )


@dataclass(frozen=True, slots=True)
class Turn:
    """One turn of the timeline and what the service has done with it."""

    seq: int
    message_id: str
    message: Message | None  # None: trimmed (its body lives on in the summary and recall)
    summarized: bool
    indexed: bool
    segment_start: bool

    @property
    def state(self) -> str:
        if self.message is None:
            return "trimmed"
        if not self.indexed:
            return "pending"
        return "summarized" if self.summarized else "indexed"


@dataclass(frozen=True, slots=True)
class SnapshotRow:
    snapshot_id: str
    created_at: str
    total: int
    budget: int
    query: str | None


@dataclass(frozen=True, slots=True)
class SessionTimeline:
    info: SessionInfo
    summary: Summary | None
    state: dict[str, Any] | None
    turns: list[Turn]
    offset: int
    segments: int  # topic segments among the turns shown
    snapshots: list[SnapshotRow]


def session_timeline(
    svc: Services, tenant: str, session_id: str, offset: int | None = None
) -> SessionTimeline:
    """A page of the session's turns (the latest by default) with each one's state."""
    check_id(session_id, "session_id")
    info = svc.sessions.info(tenant, session_id)
    if info is None:
        raise NotFound(f"session {session_id!r} not found")
    start = max(0, info.message_count - TIMELINE_TURNS) if offset is None else offset
    ids = svc.sessions.ids(tenant, session_id, start, start + TIMELINE_TURNS - 1)
    bodies = svc.sessions.by_ids(tenant, session_id, ids)
    pending = svc.sessions.pending_ids(tenant, session_id)
    summary = svc.summaries.get(tenant, session_id)
    covered = summary.last_seq if summary is not None else -1
    turns = [
        Turn(
            seq=start + n,
            message_id=message_id,
            message=body,
            summarized=start + n <= covered,
            indexed=message_id not in pending,
            segment_start=body is not None and body.segment_start,
        )
        for n, (message_id, body) in enumerate(zip(ids, bodies, strict=True))
    ]
    snapshots = []
    for snapshot_id in svc.snapshots.list_for_session(tenant, session_id, SNAPSHOTS_LISTED):
        body = svc.snapshots.get(tenant, snapshot_id)
        if body is not None:
            request = body.get("request", {})
            snapshots.append(
                SnapshotRow(
                    snapshot_id=snapshot_id,
                    created_at=str(body.get("created_at", "")),
                    total=int(body["usage"]["total"]),
                    budget=int(request.get("budget_tokens") or 0),
                    query=request.get("query"),
                )
            )
    return SessionTimeline(
        info=info,
        summary=summary,
        state=svc.working_memory.get(tenant, session_id)[0] or None,
        turns=turns,
        offset=start,
        segments=sum(1 for t in turns if t.segment_start),
        snapshots=snapshots,
    )


@dataclass(frozen=True, slots=True)
class UserFacts:
    """A user's facts by what an operator asks: current, history, conflicts, suspects."""

    user_id: str
    current: list[Fact]
    history: list[Fact]
    conflicts: list[Fact]
    suspects: list[Fact]
    total: int


def user_facts(svc: Services, tenant: str, user_id: str, limit: int = 500) -> UserFacts:
    check_id(user_id, "user_id")
    found = svc.facts.list_for_user(tenant, user_id, 0, limit)

    def having(*statuses: str) -> list[Fact]:
        return [f for f in found if f.status in statuses]

    return UserFacts(
        user_id=user_id,
        current=having("active"),
        history=having("superseded", "deleted"),
        conflicts=having("conflict"),
        suspects=having("suspect"),
        total=len(found),
    )


@dataclass(frozen=True, slots=True)
class DocumentRow:
    document: Document
    live: LiveVersion | None
    stale_versions: int
    pending_versions: int

    @property
    def waiting_s(self) -> float | None:
        """How long a newer write has waited to go live (write-behind staleness)."""
        if self.live is None or self.live.pending_since is None:
            return None
        return max(0.0, datetime.now(UTC).timestamp() - self.live.pending_since)


def documents(svc: Services, tenant: str, offset: int, limit: int) -> tuple[list[DocumentRow], int]:
    found = svc.documents.list(tenant, offset, limit)
    live = svc.documents.live(tenant, [d.doc_id for d in found])
    rows = [
        DocumentRow(
            document=d,
            live=live.get(d.doc_id),
            stale_versions=sum(1 for v in d.versions if v.status == "stale"),
            pending_versions=sum(1 for v in d.versions if v.status == "pending"),
        )
        for d in found
    ]
    return rows, svc.documents.count(tenant)


def recent_jobs(svc: Services, tenant: str) -> list[dict[str, Any]]:
    return svc.job_states.recent(tenant, RECENT_JOBS)


def audit(svc: Services, tenant: str, limit: int = 200) -> list[dict[str, Any]]:
    return svc.audit.recent(tenant, limit)
