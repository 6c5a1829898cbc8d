"""What each session last saw of each fact key: the version its next write to that key is based
on when the writer names none (`based_on`). Two sessions that were shown the same fact and then
both write it are concurrent, and the key's policy decides (`lww` or `keep_both`) instead of the
second write silently replacing the first.

A session sees a fact when a context for it packs the fact, when it reads the fact (`GET
/v1/facts/{id}` or a search with its `session_id`), and when it writes the fact itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from service.domain.errors import Conflict, NotFound
from service.domain.models import Fact, SessionInfo
from service.domain.validation import check_id
from service.usecases.services import Services

_SHOWN = ("active", "conflict")  # a version a session can base a write on


def note_seen(svc: Services, tenant: str, session_id: str, facts: Iterable[Fact]) -> None:
    """Record the current facts (with a key) as what the session last saw of their keys."""
    seen = {f.key: f.id for f in facts if f.key is not None and f.status in _SHOWN}
    svc.seen_facts.note(tenant, session_id, seen)


def note_served(
    svc: Services,
    tenant: str,
    info: SessionInfo | None,
    facts: Sequence[tuple[Fact, float]],
    items: Sequence[dict[str, Any]],
) -> None:
    """A context was assembled for the session: the facts it packed (not every hit) are seen.
    Nothing for a session that does not exist (yet)."""
    if info is None:
        return
    packed = {item["id"] for item in items if item.get("kind") == "fact"}
    note_seen(svc, tenant, info.session_id, (f for f, _ in facts if f.id in packed))


def session_of(svc: Services, tenant: str, session_id: str, user_id: str) -> SessionInfo:
    """The session a read or write is made for: it exists and is the user's."""
    check_id(session_id, "session_id")
    info = svc.sessions.info(tenant, session_id)
    if info is None:
        raise NotFound(f"session {session_id!r} not found")
    if info.user_id != user_id:
        raise Conflict(f"session {session_id!r} belongs to another user", field="session_id")
    return info


def shown_to(
    svc: Services, tenant: str, session_id: str | None, user_id: str, facts: Sequence[Fact]
) -> None:
    """Facts read for a session (GET, search): what it last saw of their keys."""
    if session_id is None:
        return
    session_of(svc, tenant, session_id, user_id)
    note_seen(svc, tenant, session_id, facts)


def base_of(
    svc: Services, tenant: str, session_id: str, user_id: str, key: str | None
) -> str | None:
    """The fact a session's write to `key` is based on: the one it last saw (None: never saw
    the key, so its write is not concurrent with anything)."""
    session_of(svc, tenant, session_id, user_id)
    return svc.seen_facts.last(tenant, session_id, key) if key is not None else None
