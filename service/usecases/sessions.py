"""Session use cases: append turns, read the log, working memory, delete."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from service.domain.chat_format import message_tokens, wire_content
from service.domain.errors import (
    InsufficientStorage,
    InvalidInput,
    NotFound,
    PreconditionFailed,
    QuotaExceeded,
    StoreUnavailable,
    TooLarge,
)
from service.domain.models import AppendResult, Message, NewMessage, SessionInfo, StateVersion
from service.domain.points import older_epochs_filter
from service.domain.summaries import FIDELITIES, Summary
from service.domain.validation import check_id
from service.tasks import INDEX_MESSAGES
from service.usecases import compaction
from service.usecases.lineage import cascade
from service.usecases.quotas import counted_messages, reserve
from service.usecases.services import Services

log = structlog.get_logger()


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
    # Indexing writes vectors later: a store that cannot take them refuses the turns now.
    svc.index.check_writable()
    # Counted before the write (duplicates given back after): a batch past the quota is refused
    # whole, nothing of it written.
    reserved = _reserve_turns(svc, tenant, session_id, [mid for _, mid, _, _ in prepared])
    try:
        result = svc.sessions.append(
            tenant, session_id, user_id, prepared, svc.tokenizer.encoding_for(model)
        )
    except BaseException:
        svc.quotas.release(tenant, "messages", reserved)
        raise
    # The turns are stored: what follows is bookkeeping. A store too full (or gone) for it
    # leaves a counter behind (logged), never a stored append answered as failed.
    try:
        _count_appended(svc, tenant, session_id, user_id, prepared, result, reserved)
    except (InsufficientStorage, StoreUnavailable) as exc:
        log.warning(
            "messages.counters_behind", tenant=tenant, session_id=session_id, error=exc.message
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
        except (StoreUnavailable, InsufficientStorage):
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


def _count_appended(
    svc: Services,
    tenant: str,
    session_id: str,
    user_id: str,
    prepared: Sequence[tuple[NewMessage, str, datetime, int]],
    result: AppendResult,
    reserved: int,
) -> None:
    """The quota's reservation settled to what was appended; the usage counters grown."""
    if result.appended > reserved:  # a turn deleted since the reservation was appended again
        svc.quotas.reserve(tenant, "messages", result.appended - reserved, 0)
    svc.quotas.release(tenant, "messages", reserved - result.appended)
    if result.new_ids:
        new = set(result.new_ids)
        added_tokens = sum(tokens for _, message_id, _, tokens in prepared if message_id in new)
        before = (result.messages - result.appended, result.tokens - added_tokens)
        after = (result.messages, result.tokens)
        svc.usage.session_grew(tenant, session_id, user_id, before, after, True, svc.now_ms())


def _reserve_turns(svc: Services, tenant: str, session_id: str, ids: list[str]) -> int:
    """Count the batch against the messages quota; past it, count only the turns not stored
    yet (a retried batch is answered as duplicates, not refused). Returns what was counted."""
    try:
        reserve(svc, tenant, "messages", len(ids))
        return len(ids)
    except QuotaExceeded:
        stored = sum(m is not None for m in svc.sessions.by_ids(tenant, session_id, ids))
        if not stored:
            raise
    reserve(svc, tenant, "messages", len(ids) - stored)
    return len(ids) - stored


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


def delete_session(svc: Services, tenant: str, session_id: str) -> None:
    """Tombstone first (epoch bump), then log, state, snapshots and the session's vectors."""
    check_id(session_id, "session_id")
    info = svc.sessions.info(tenant, session_id)
    epoch, existed = svc.sessions.delete(tenant, session_id)
    if not existed:
        raise NotFound(f"session {session_id!r} not found")
    uncount_session(svc, tenant, session_id, info)
    # Snapshots hold the session's turns verbatim: they go with it.
    svc.snapshots.delete_for_session(tenant, session_id)
    # Facts learned from its turns are suspect now, re-derived (here: retired) by a job.
    cascade(svc, tenant, [session_id])
    try:
        # Only older epochs: a session re-created meanwhile keeps its new vectors.
        svc.index.delete(older_epochs_filter(tenant, session_id, epoch))
    except StoreUnavailable:
        # Leftover points are never served: recall checks every hit against the log and epoch.
        log.warning("sessions.vector_cleanup_failed", tenant=tenant, session_id=session_id)
    log.info("sessions.deleted", tenant=tenant, session_id=session_id, epoch=epoch)


def uncount_session(svc: Services, tenant: str, session_id: str, info: SessionInfo | None) -> None:
    """A deleted session (as it was before: `info`) leaves the usage counters and gives its
    turns back to the messages quota."""
    size = (info.message_count, info.tokens) if info is not None else (0, 0)
    svc.usage.session_removed(tenant, session_id, size)
    if info is not None:
        svc.quotas.release(tenant, "messages", counted_messages(info))


EXPIRE_BATCH = 500


def expire_idle_sessions(svc: Services) -> int:
    """Delete sessions not written to for `session_ttl_s` (0: never), each as DELETE would:
    tombstone, log, summary, state, snapshots, vectors. Returns how many went."""
    ttl_s = svc.settings.session_ttl_s
    if not ttl_s:
        return 0
    before_ms = svc.now_ms() - ttl_s * 1000
    expired = 0
    while batch := svc.sessions.idle(before_ms, EXPIRE_BATCH):
        for tenant, session_id in batch:
            # Written to since it was listed: it lives on (a write racing this check by
            # milliseconds can still lose; the window is one round trip).
            if not svc.sessions.still_idle(tenant, session_id, before_ms):
                continue
            try:
                delete_session(svc, tenant, session_id)
            except NotFound:
                svc.sessions.delete(tenant, session_id)  # drops it from the activity index
            expired += 1
        if len(batch) < EXPIRE_BATCH:
            break
    if expired:
        log.info("sessions.expired", sessions=expired, ttl_s=ttl_s)
    return expired


def session_owner(svc: Services, tenant: str, session_id: str) -> str | None:
    """The user a session belongs to (None: no such session)."""
    check_id(session_id, "session_id")
    info = svc.sessions.info(tenant, session_id)
    return None if info is None else info.user_id


def open_session(svc: Services, tenant: str, session_id: str, user_id: str) -> bool:
    """Create the user's session, empty, unless it exists (409 if another user's). Returns
    whether it was created."""
    check_id(session_id, "session_id")
    check_id(user_id, "user_id")
    existed = svc.sessions.info(tenant, session_id) is not None
    svc.sessions.set_settings(tenant, session_id, user_id, {})
    if not existed:
        log.info("sessions.opened", tenant=tenant, session_id=session_id)
    return not existed


@dataclass(frozen=True, slots=True)
class SessionIds:
    """A page of session ids, latest write first, and how many there are in all."""

    session_ids: list[str]
    total: int


def list_user_sessions(
    svc: Services, tenant: str, user_id: str | None, offset: int, limit: int
) -> SessionIds:
    """The user's sessions (None: the tenant's), latest write first, from the session index."""
    if user_id is not None:
        check_id(user_id, "user_id")
    page, total = svc.sessions.recent(tenant, offset, limit, user_id)
    return SessionIds([session_id for session_id, _ in page], total)


def set_fidelity(
    svc: Services, tenant: str, session_id: str, user_id: str, fidelity: str
) -> SessionView:
    """A session's own fidelity tier (creates the session when new): `full` keeps its whole log
    verbatim from now on; `balanced`/`compact` fold and trim as configured."""
    return set_session_settings(svc, tenant, session_id, user_id, fidelity=fidelity)


def set_session_settings(
    svc: Services,
    tenant: str,
    session_id: str,
    user_id: str,
    fidelity: str | None = None,
    extract_facts: bool | None = None,
) -> SessionView:
    """A session's own settings (creates the session when new); None leaves one as it is."""
    check_id(session_id, "session_id")
    check_id(user_id, "user_id")
    values: dict[str, str] = {}
    if fidelity is not None:
        if fidelity not in FIDELITIES:
            raise InvalidInput(
                f"fidelity must be one of {', '.join(FIDELITIES)}, not {fidelity!r}",
                field="fidelity",
            )
        values["fidelity"] = fidelity
    if extract_facts is not None:
        values["extract_facts"] = "1" if extract_facts else "0"
    svc.sessions.set_settings(tenant, session_id, user_id, values)
    log.info("sessions.settings_set", tenant=tenant, session_id=session_id, **values)
    return describe_session(svc, tenant, session_id)


def extracts_facts(svc: Services, info: SessionInfo) -> bool:
    """Whether facts are learned from this session's turns (its own setting, else the default)."""
    return svc.settings.extract_facts if info.extract_facts is None else info.extract_facts


@dataclass(frozen=True, slots=True)
class SessionView:
    """A session's header, its effective fidelity tier and its rolling summary."""

    info: SessionInfo
    fidelity: str
    summary: Summary | None
    extract_facts: bool = True


def describe_session(svc: Services, tenant: str, session_id: str) -> SessionView:
    info = get_session(svc, tenant, session_id)
    return SessionView(
        info,
        compaction.fidelity(svc, info),
        svc.summaries.get(tenant, session_id),
        extracts_facts(svc, info),
    )


@dataclass(frozen=True, slots=True)
class WorkingMemory:
    """A session's working memory and its version (the ETag)."""

    state: dict[str, Any]
    version: int

    @property
    def etag(self) -> str:
        return f'"{self.version}"'


def put_state(
    svc: Services,
    tenant: str,
    session_id: str,
    state: dict[str, Any],
    user_id: str | None = None,
    if_match: str | None = None,
) -> WorkingMemory:
    """Write a new version of the session's working memory. With `user_id`, the session must
    be that user's (409 otherwise; created when new); with `if_match`, still at that version
    (412 otherwise)."""
    check_id(session_id, "session_id")
    if user_id is not None:
        check_id(user_id, "user_id")
    size = len(json.dumps(state, separators=(",", ":"), ensure_ascii=False).encode())
    if size > svc.settings.max_state_bytes:
        raise TooLarge(
            f"state is {size} bytes as JSON; the limit is {svc.settings.max_state_bytes}",
            field="state",
        )
    expected = _version(if_match)
    keep = svc.settings.state_versions_kept
    version = svc.working_memory.put(tenant, session_id, state, user_id, expected, keep)
    if user_id is not None:  # the session is the user's now (created when new): indexed
        svc.sessions.touch(tenant, session_id, user_id)
    log.info("sessions.state_written", tenant=tenant, session_id=session_id, version=version)
    return WorkingMemory(state, version)


def get_state(svc: Services, tenant: str, session_id: str) -> WorkingMemory:
    check_id(session_id, "session_id")
    state, version = svc.working_memory.get(tenant, session_id)
    return WorkingMemory(state, version)


def state_versions(svc: Services, tenant: str, session_id: str) -> list[StateVersion]:
    """The retained versions of the session's working memory, newest first."""
    check_id(session_id, "session_id")
    return svc.working_memory.versions(tenant, session_id)


def restore_state(
    svc: Services,
    tenant: str,
    session_id: str,
    version: int,
    user_id: str | None = None,
    if_match: str | None = None,
) -> WorkingMemory:
    """Write a retained version's state again, as a new version (history is never rewritten)."""
    found = next((v for v in state_versions(svc, tenant, session_id) if v.version == version), None)
    if found is None:
        raise NotFound(
            f"version {version} of session {session_id!r}'s state is not retained",
            field="version",
        )
    return put_state(svc, tenant, session_id, found.state, user_id, if_match)


def _version(if_match: str | None) -> int | None:
    if if_match is None:
        return None
    value = if_match.strip().removeprefix("W/").strip('"')
    if not value.isdigit():
        raise PreconditionFailed(f"If-Match {if_match!r} is not a state version", field="If-Match")
    return int(value)
