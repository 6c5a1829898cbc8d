"""Session use cases: append turns, read the log, working memory, delete."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any

import structlog

from service.domain.chat_format import message_tokens, wire_content
from service.domain.errors import InvalidInput, NotFound, StoreUnavailable, TooLarge
from service.domain.models import AppendResult, Message, NewMessage, SessionInfo
from service.domain.points import message_from_payload, message_point_id, older_epochs_filter
from service.domain.summaries import FIDELITIES, Summary
from service.domain.validation import check_id
from service.tasks import INDEX_MESSAGES
from service.usecases import compaction
from service.usecases.services import Services

log = structlog.get_logger()

RETRIEVE_BATCH = 256  # points per lookup when rebuilding trimmed turns


def append_messages(
    svc: Services, tenant: str, session_id: str, user_id: str, messages: Sequence[NewMessage]
) -> AppendResult:
    """Append turns idempotently (by message id) and queue their indexing for recall."""
    check_id(session_id, "session_id")
    check_id(user_id, "user_id")
    limits = svc.settings
    if not messages:
        raise InvalidInput("messages must not be empty", field="messages")
    if len(messages) > limits.max_batch_messages:
        raise TooLarge(
            f"{len(messages)} messages in one request; the limit is {limits.max_batch_messages}",
            field="messages",
        )
    now = svc.clock()
    model = limits.default_model
    prepared: list[tuple[NewMessage, str, Any, int]] = []
    seen: set[str] = set()
    for n, m in enumerate(messages):
        where = f"messages[{n}]"
        if len(m.content) > limits.max_message_chars:
            raise TooLarge(
                f"{where}.content has {len(m.content)} characters; the limit is "
                f"{limits.max_message_chars}",
                field=f"{where}.content",
            )
        if not m.content and not m.tool_calls:
            raise InvalidInput(
                "a message needs content (or, for an assistant, tool_calls)",
                field=f"{where}.content",
            )
        _check_roles(m, where)
        message_id = check_id(m.id, f"{where}.id") if m.id else uuid.uuid4().hex
        if message_id in seen:
            raise InvalidInput(
                f"message id {message_id!r} repeats in one batch", field=f"{where}.id"
            )
        seen.add(message_id)
        created = m.created_at or now
        if created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        chat = {
            "role": m.role,
            "content": wire_content(m.content, m.content_null, m.content_parts),
            "name": m.name,
            "tool_calls": m.tool_calls,
            "tool_call_id": m.tool_call_id,
        }
        tokens = message_tokens(chat, lambda t: svc.tokenizer.count(t, model))
        prepared.append((m, message_id, created, tokens))
    result = svc.sessions.append(
        tenant, session_id, user_id, prepared, svc.tokenizer.encoding_for(model)
    )
    if result.new_ids:
        payload = {
            "tenant": tenant,
            "session_id": session_id,
            "epoch": result.epoch,
            "message_ids": result.new_ids,
        }
        try:
            svc.jobs.enqueue(INDEX_MESSAGES, payload)
        except StoreUnavailable:
            # The turns are stored and stay in the session's pending set; indexing catches up
            # when the broker is back (the worker reconciles pending ids on start).
            log.warning("messages.enqueue_failed", tenant=tenant, session_id=session_id)
    log.info(
        "messages.appended",
        tenant=tenant,
        session_id=session_id,
        appended=result.appended,
        duplicates=result.duplicates,
    )
    return result


def _check_roles(m: NewMessage, where: str) -> None:
    """What OpenAI's chat API refuses per role, refused here (a stored turn is served again)."""
    if m.role == "tool" and not m.tool_call_id:
        raise InvalidInput("a tool message needs tool_call_id", field=f"{where}.tool_call_id")
    if m.role != "tool" and m.tool_call_id:
        raise InvalidInput("only a tool message has tool_call_id", field=f"{where}.tool_call_id")
    if m.role != "assistant" and m.tool_calls:
        raise InvalidInput("only an assistant message has tool_calls", field=f"{where}.tool_calls")
    if m.role == "tool" and m.name:
        raise InvalidInput("a tool message has no name", field=f"{where}.name")
    if m.content_null and not (m.role == "assistant" and m.tool_calls):
        raise InvalidInput(
            "content may be null only for an assistant message with tool_calls",
            field=f"{where}.content",
        )


def get_session(svc: Services, tenant: str, session_id: str) -> SessionInfo:
    check_id(session_id, "session_id")
    info = svc.sessions.info(tenant, session_id)
    if info is None:
        raise NotFound(f"session {session_id!r} not found")
    return info


def list_messages(
    svc: Services, tenant: str, session_id: str, offset: int, limit: int
) -> tuple[SessionInfo, list[Message]]:
    info = get_session(svc, tenant, session_id)
    return info, svc.sessions.messages(tenant, session_id, offset, offset + limit - 1)


def turns_from_index(
    svc: Services, tenant: str, session_id: str, epoch: int, ids: set[str]
) -> list[Message]:
    """Trimmed turns of this epoch, rebuilt from their recall vectors' payloads (fetched by
    point id: a lookup, not a filtered scan)."""
    points = [message_point_id(tenant, session_id, epoch, i) for i in sorted(ids)]
    out: list[Message] = []
    for start in range(0, len(points), RETRIEVE_BATCH):
        hits = svc.index.retrieve(points[start : start + RETRIEVE_BATCH])
        out += [m for m in (message_from_payload(tenant, h.payload) for h in hits) if m]
    return out


def delete_session(svc: Services, tenant: str, session_id: str) -> None:
    """Tombstone first (epoch bump), then log, state, snapshots and the session's vectors."""
    check_id(session_id, "session_id")
    epoch, existed = svc.sessions.delete(tenant, session_id)
    if not existed:
        raise NotFound(f"session {session_id!r} not found")
    # Snapshots hold the session's turns verbatim: they go with it.
    svc.snapshots.delete_for_session(tenant, session_id)
    try:
        # Only older epochs: a session re-created meanwhile keeps its new vectors.
        svc.index.delete(older_epochs_filter(tenant, session_id, epoch))
    except StoreUnavailable:
        # Leftover points are never served: recall checks every hit against the log and epoch.
        log.warning("sessions.vector_cleanup_failed", tenant=tenant, session_id=session_id)
    log.info("sessions.deleted", tenant=tenant, session_id=session_id, epoch=epoch)


def set_fidelity(
    svc: Services, tenant: str, session_id: str, user_id: str, fidelity: str
) -> SessionView:
    """A session's own fidelity tier (creates the session when new): `full` keeps its whole log
    verbatim from now on; `balanced`/`compact` fold and trim as configured."""
    check_id(session_id, "session_id")
    check_id(user_id, "user_id")
    if fidelity not in FIDELITIES:
        raise InvalidInput(
            f"fidelity must be one of {', '.join(FIDELITIES)}, not {fidelity!r}", field="fidelity"
        )
    svc.sessions.set_fidelity(tenant, session_id, user_id, fidelity)
    log.info("sessions.fidelity_set", tenant=tenant, session_id=session_id, fidelity=fidelity)
    return describe_session(svc, tenant, session_id)


@dataclass(frozen=True, slots=True)
class SessionView:
    """A session's header, its effective fidelity tier and its rolling summary."""

    info: SessionInfo
    fidelity: str
    summary: Summary | None


def describe_session(svc: Services, tenant: str, session_id: str) -> SessionView:
    info = get_session(svc, tenant, session_id)
    return SessionView(info, compaction.fidelity(svc, info), svc.summaries.get(tenant, session_id))


def put_state(svc: Services, tenant: str, session_id: str, state: dict[str, Any]) -> dict[str, Any]:
    check_id(session_id, "session_id")
    size = len(json.dumps(state, separators=(",", ":"), ensure_ascii=False).encode())
    if size > svc.settings.max_state_bytes:
        raise TooLarge(
            f"state is {size} bytes as JSON; the limit is {svc.settings.max_state_bytes}",
            field="state",
        )
    svc.sessions.put_state(tenant, session_id, state)
    return state


def get_state(svc: Services, tenant: str, session_id: str) -> dict[str, Any]:
    check_id(session_id, "session_id")
    return svc.sessions.get_state(tenant, session_id) or {}
