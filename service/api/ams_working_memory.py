"""Agent Memory Server working memory over our sessions: its messages are the session's live
turns (a PUT replaces them), its `data` the session's working memory (state), its `context` the
session's rolling summary; its `memories` go to long-term memory (facts) on the PUT."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Annotated, cast

from fastapi import Query
from starlette.concurrency import run_in_threadpool

from service.api import ams_records as records
from service.api.ams_routing import Caller, ams_router, errors
from service.api.ams_routing import session_id_of as _sid
from service.api.ams_schemas import (
    AckOut,
    MessageOut,
    SessionListOut,
    WorkingMemoryIn,
    WorkingMemoryOut,
)
from service.api.deps import Svc
from service.domain import errors as e
from service.domain.models import NewMessage, Role
from service.usecases import client_facts, sessions
from service.usecases.replace import replace_messages
from service.usecases.services import Services

LISTED_MAX = 10_000  # sessions read to filter a listing by namespace

router = ams_router()


@router.get("/v1/working-memory/", response_model=SessionListOut)
async def list_sessions(
    svc: Svc,
    caller: Caller,
    limit: Annotated[int, Query(ge=1, le=1000)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
    namespace: str | None = None,
    user_id: str | None = None,
) -> SessionListOut:
    """The user's sessions (the tenant's without `user_id`), latest write first."""
    user = None if user_id is None else records.user_of(user_id)
    if namespace is None:
        page = await run_in_threadpool(
            sessions.list_user_sessions, svc, caller.tenant, user, offset, limit
        )
        return SessionListOut(sessions=page.session_ids, total=page.total)
    every = await run_in_threadpool(
        sessions.list_user_sessions, svc, caller.tenant, user, 0, LISTED_MAX
    )
    prefix = f"{namespace}:"
    ids = [s.removeprefix(prefix) for s in every.session_ids if s.startswith(prefix)]
    return SessionListOut(sessions=ids[offset : offset + limit], total=len(ids))


def _working_memory(
    svc: Services,
    tenant: str,
    session_id: str,
    namespace: str | None,
    user_id: str | None,
    window: int | None,
) -> WorkingMemoryOut:
    sid = _sid(session_id, namespace)
    view = sessions.describe_session(svc, tenant, sid)
    if user_id is not None and view.info.user_id != records.user_of(user_id):
        raise e.NotFound(f"session {session_id!r} not found for user {user_id!r}")
    _, turns = sessions.list_messages(svc, tenant, sid, 0, max(view.info.message_count, 1))
    state = sessions.get_state(svc, tenant, sid).state
    tokens = view.info.tokens
    return WorkingMemoryOut(
        messages=[
            MessageOut(
                role=m.role,
                content=m.content,
                id=m.id,
                created_at=m.created_at,
                persisted_at=m.created_at,
            )
            for m in turns
        ],
        memories=[],  # promoted to long-term memory at once: read them there
        data=state,
        context=view.summary.text if view.summary is not None else None,
        user_id=None if view.info.user_id == records.ANONYMOUS else view.info.user_id,
        tokens=tokens,
        session_id=session_id,
        namespace=namespace,
        last_accessed=max((m.created_at for m in turns), default=datetime.now(UTC)),
        context_percentage_total_used=min(100.0, tokens * 100 / window) if window else None,
    )


@router.get(
    "/v1/working-memory/{session_id}",
    response_model=WorkingMemoryOut,
    responses=errors(e.NotFound),
)
async def get_working_memory(
    session_id: str,
    svc: Svc,
    caller: Caller,
    user_id: str | None = None,
    namespace: str | None = None,
    model_name: str | None = None,
    context_window_max: Annotated[int | None, Query(ge=1)] = None,
) -> WorkingMemoryOut:
    """The session as a working memory; 404 when there is none (the client then creates it)."""
    return await run_in_threadpool(
        _working_memory, svc, caller.tenant, session_id, namespace, user_id, context_window_max
    )


def _put(
    svc: Services,
    tenant: str,
    session_id: str,
    body: WorkingMemoryIn,
    user_id: str | None,
    window: int | None,
) -> WorkingMemoryOut:
    sid = _sid(session_id, body.namespace)
    owner = sessions.session_owner(svc, tenant, sid)
    user = user_id or body.user_id or owner or records.ANONYMOUS
    turns = [
        NewMessage(role=_role(m.role, n), content=m.content, id=m.id, created_at=m.created_at)
        for n, m in enumerate(body.messages)
    ]
    replaced = replace_messages(svc, tenant, sid, user, turns)
    data = body.data or {}
    if sessions.get_state(svc, tenant, sid).state != data:
        sessions.put_state(svc, tenant, sid, data, user)
    for memory in body.memories:  # AMS promotes them in the background; we do it now
        client_facts.remember_client_fact(
            svc,
            tenant,
            memory.id,
            records.user_of(memory.user_id or user),
            memory.text,
            records.metadata(memory, body.namespace, session_id),
            memory.event_date,
        )
    out = _working_memory(svc, tenant, session_id, body.namespace, None, window)
    out.new_session = replaced.created
    return out


ROLES = ("user", "assistant", "system", "developer", "tool")


def _role(role: str, n: int) -> Role:
    if role not in ROLES:
        raise e.InvalidInput(f"role must be one of {', '.join(ROLES)}", field=f"messages.{n}.role")
    return cast(Role, role)


@router.put(
    "/v1/working-memory/{session_id}",
    response_model=WorkingMemoryOut,
    responses=errors(e.Conflict, e.TooLarge, e.QuotaExceeded, e.PreconditionFailed),
)
async def put_working_memory(
    session_id: str,
    body: WorkingMemoryIn,
    svc: Svc,
    caller: Caller,
    user_id: str | None = None,
    model_name: str | None = None,
    context_window_max: Annotated[int | None, Query(ge=1)] = None,
) -> WorkingMemoryOut:
    """Replace the session's turns and data with the body's (created when new); the body's
    memories go to long-term memory."""
    return await run_in_threadpool(
        _put, svc, caller.tenant, session_id, body, user_id, context_window_max
    )


@router.delete("/v1/working-memory/{session_id}", response_model=AckOut)
async def delete_working_memory(
    session_id: str,
    svc: Svc,
    caller: Caller,
    namespace: str | None = None,
    user_id: str | None = None,
) -> AckOut:
    """Delete the session: its turns, summary, data (as DELETE /v1/sessions/{id}); "ok" for
    one that is not there, as AMS answers."""
    sid = _sid(session_id, namespace)
    owner = await run_in_threadpool(sessions.session_owner, svc, caller.tenant, sid)
    if owner is not None and (user_id is None or owner == records.user_of(user_id)):
        with contextlib.suppress(e.NotFound):  # deleted meanwhile
            await run_in_threadpool(sessions.delete_session, svc, caller.tenant, sid)
    return AckOut(status="ok")
