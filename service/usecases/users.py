"""Forgetting a user: every session, turn, summary, fact (with its history), vector, snapshot
and cache entry, tombstones first."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

import structlog

from service.domain.models import Principal, VectorFilter
from service.domain.points import (
    message_from_payload,
    piece_from_payload,
    searchable_text,
    session_pieces_filter,
    session_turns_filter,
    user_points_filter,
)
from service.domain.validation import check_id
from service.usecases.embedding import content_hash
from service.usecases.services import Services
from service.usecases.sessions import uncount_session

log = structlog.get_logger()

SCROLL_PAGE = 512


@dataclass(frozen=True, slots=True)
class UserDeleted:
    """What deleting a user removed, counted."""

    user_id: str
    sessions: int
    messages: int
    facts: int
    snapshots: int
    vectors: int
    cache_entries: int


def user_digest(user_id: str) -> str:
    """How the audit log names a deleted user: not by the id it was asked to forget."""
    return "sha256:" + hashlib.sha256(user_id.encode()).hexdigest()[:16]


def delete_user(svc: Services, caller: Principal, user_id: str) -> UserDeleted:
    """Tombstone every session first (its epoch bump: an in-flight indexing or compaction job
    finds it and takes back what it wrote), then facts, snapshots, vectors and cache entries.
    Records go before vectors: a vector without its record is never served."""
    tenant = caller.tenant
    check_id(user_id, "user_id")
    session_ids = svc.sessions.ids_for_user(tenant, user_id)
    texts: set[str] = set()
    messages = 0
    infos = {}
    for session_id in session_ids:
        info = infos[session_id] = svc.sessions.info(tenant, session_id)
        if info is not None:
            turns = svc.sessions.messages(tenant, session_id, 0, -1)
            messages += len(turns)
            texts |= {searchable_text(m) for m in turns}
    for session_id in session_ids:
        svc.sessions.delete(tenant, session_id)  # the tombstone: epoch bump, log and summary go
        uncount_session(svc, tenant, session_id, infos[session_id])
    facts = svc.facts.purge_user(tenant, user_id)
    texts |= {f.text for f in facts}
    svc.cutoffs.forget(tenant, "user", user_id)
    snapshots = 0
    for session_id in session_ids:
        snapshots += svc.snapshots.delete_for_session(tenant, session_id)
        svc.cutoffs.forget(tenant, "session", session_id)
    wheres = [user_points_filter(tenant, user_id)]
    for session_id in session_ids:
        wheres += [
            session_turns_filter(tenant, session_id),
            session_pieces_filter(tenant, session_id),
        ]
    vectors = 0
    for where in wheres:
        for payload in _payloads(svc, where):
            vectors += 1
            texts.add(_text_of(payload))
        svc.index.delete(where)
    cache = svc.embedding_cache.delete_many(
        tenant, svc.embedder.model_name, sorted(content_hash(t) for t in texts if t)
    )
    result = UserDeleted(user_id, len(session_ids), messages, len(facts), snapshots, vectors, cache)
    counts = dict(_counts(result))
    svc.audit.record(
        tenant,
        {
            "at": svc.clock().isoformat(),
            "who": caller.key_id,
            "action": "delete_user",
            "scope": {"user": user_digest(user_id)},
            "affected": counts,
        },
    )
    log.info("users.deleted", tenant=tenant, user=user_digest(user_id), **counts)
    return result


def _counts(result: UserDeleted) -> Iterator[tuple[str, int]]:
    for name in ("sessions", "messages", "facts", "snapshots", "vectors", "cache_entries"):
        yield name, getattr(result, name)


def _payloads(svc: Services, where: VectorFilter) -> Iterator[dict[str, object]]:
    offset: str | None = None
    while True:
        hits, offset = svc.index.scroll(where, SCROLL_PAGE, offset)
        for hit in hits:
            yield hit.payload
        if offset is None:
            return


def _text_of(payload: dict[str, object]) -> str:
    """The text a point's vector was embedded from (its cache key), when the payload has it."""
    if payload.get("kind") == "segment":
        return piece_from_payload(payload)[0].text
    message = message_from_payload(str(payload.get("tenant", "")), payload)
    return searchable_text(message) if message is not None else ""
