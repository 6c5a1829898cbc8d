"""Agent Memory Server records over our facts: the fields AMS has and we do not live in the
fact's metadata; its search filters are checked here against each fact found."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

from service.api.ams_schemas import (
    EditMemoryIn,
    ListFilter,
    MemoryRecordIn,
    MemoryRecordOut,
    SearchIn,
    TagFilter,
    TimeFilter,
)
from service.domain.models import Fact

# Memories (and sessions) written without a user belong to this user of ours: facts and
# sessions always have one. A search without a user filter searches every user's.
ANONYMOUS = "ams.anonymous"
# Kept in the fact's metadata under these names (what AMS records have beside the text).
FIELDS = ("topics", "entities", "memory_type", "namespace", "session_id", "event_date")


def user_of(user_id: str | None) -> str:
    return user_id or ANONYMOUS


def metadata(
    record: MemoryRecordIn, namespace: str | None = None, session_id: str | None = None
) -> dict[str, Any]:
    """A record's AMS fields as fact metadata (None fields left out); `namespace` and
    `session_id` fill those the record lacks (a working memory's own)."""
    values: dict[str, Any] = {
        "topics": record.topics,
        "entities": record.entities,
        "memory_type": record.memory_type,
        "namespace": record.namespace or namespace,
        "session_id": record.session_id or session_id,
        "event_date": record.event_date.isoformat() if record.event_date else None,
    }
    return {k: v for k, v in values.items() if v is not None}


def edits(body: EditMemoryIn) -> dict[str, Any]:
    """The metadata fields a PATCH sets."""
    values = body.model_dump(include=set(FIELDS), exclude_none=True, mode="json")
    return dict(values)


def record(fact: Fact, client_id: str | None = None) -> MemoryRecordOut:
    """A fact as an AMS memory record, under the client's id (ours when it has none). A fact
    written through our own API may hold anything in its metadata: what does not fit AMS's
    fields is left out."""
    meta = _fitting(fact.metadata)
    event_date = meta.get("event_date")
    return MemoryRecordOut(
        id=client_id or fact.external_id or fact.id,
        text=fact.text,
        session_id=meta.get("session_id"),
        user_id=None if fact.user_id == ANONYMOUS else fact.user_id,
        namespace=meta.get("namespace"),
        # We keep when a fact was recorded, not when it was last read or edited.
        last_accessed=fact.recorded_at,
        created_at=fact.recorded_at,
        updated_at=fact.recorded_at,
        persisted_at=fact.recorded_at,
        topics=meta.get("topics"),
        entities=meta.get("entities"),
        memory_type=meta.get("memory_type", "semantic"),
        extracted_from=fact.lineage or None,
        event_date=datetime.fromisoformat(event_date) if event_date else None,
    )


def _fitting(meta: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("topics", "entities"):
        value = meta.get(name)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            out[name] = value
    for name in ("namespace", "session_id"):
        if isinstance(meta.get(name), str):
            out[name] = meta[name]
    if meta.get("memory_type") in ("episodic", "semantic", "message"):
        out["memory_type"] = meta["memory_type"]
    with contextlib.suppress(KeyError, TypeError, ValueError):
        out["event_date"] = datetime.fromisoformat(meta["event_date"]).isoformat()
    return out


def users(search: SearchIn) -> list[str] | None:
    """The users a search names (eq, in_): searched one by one; None: every user."""
    wanted = search.user_id
    if wanted is None or (wanted.eq is None and wanted.in_ is None):
        return None
    named = [wanted.eq] if wanted.eq is not None else list(wanted.in_ or [])
    return list(dict.fromkeys(user_of(u) for u in named))


def matches(search: SearchIn, fact: Fact) -> bool:
    """Whether a fact passes the search's filters other than the user and the text."""
    meta = _fitting(fact.metadata)
    user = None if fact.user_id == ANONYMOUS else fact.user_id
    return (
        _tag(search.user_id, user)
        and _tag(search.session_id, meta.get("session_id"))
        and _tag(search.namespace, meta.get("namespace"))
        and _tag(search.memory_type, meta.get("memory_type", "semantic"))
        and _tags(search.topics, meta.get("topics") or [])
        and _tags(search.entities, meta.get("entities") or [])
        and _time(search.created_at, fact.recorded_at)
        and _time(search.last_accessed, fact.recorded_at)
        and _time(search.event_date, _event_date(fact))
    )


def _event_date(fact: Fact) -> datetime | None:
    value = _fitting(fact.metadata).get("event_date")
    return _aware(datetime.fromisoformat(value)) if value else None


def _tag(f: TagFilter | None, value: str | None) -> bool:
    if f is None:
        return True
    return (
        (f.eq is None or value == f.eq)
        and (f.in_ is None or value in f.in_)
        and (f.not_eq is None or value != f.not_eq)
        and (f.not_in is None or value not in f.not_in)
    )


def _tags(f: ListFilter | None, values: list[str]) -> bool:
    if f is None:
        return True
    have = set(values)
    return (
        (not f.any or bool(have & set(f.any)))
        and (not f.all or set(f.all) <= have)
        and (not f.none or not have & set(f.none))
    )


def _time(f: TimeFilter | None, value: datetime | None) -> bool:
    if f is None:
        return True
    if value is None:
        return False
    return (
        (f.gte is None or value >= _aware(f.gte))
        and (f.lte is None or value <= _aware(f.lte))
        and (f.eq is None or value == _aware(f.eq))
    )


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
