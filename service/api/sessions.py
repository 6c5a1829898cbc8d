"""Session routes: append turns, read the log, working memory, delete."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response
from starlette.concurrency import run_in_threadpool

from service.api.deps import Caller, Svc
from service.api.errors import responses
from service.api.schemas import (
    AppendIn,
    AppendOut,
    MaxOffset,
    MessageOut,
    MessagesPage,
    PathId,
    SessionOut,
    SessionSettingsIn,
    StateIO,
)
from service.domain import errors as e
from service.usecases import sessions

router = APIRouter(prefix="/v1/sessions", tags=["sessions"])


@router.post("/{session_id}/messages", status_code=201, responses=responses(e.Conflict))
async def append(session_id: PathId, body: AppendIn, svc: Svc, caller: Caller) -> AppendOut:
    result = await run_in_threadpool(
        sessions.append_messages,
        svc,
        caller.tenant,
        session_id,
        body.user_id,
        [m.to_domain() for m in body.messages],
    )
    return AppendOut.model_validate(result)


@router.get("/{session_id}", responses=responses(e.NotFound))
async def get(session_id: PathId, svc: Svc, caller: Caller) -> SessionOut:
    view = await run_in_threadpool(sessions.describe_session, svc, caller.tenant, session_id)
    return SessionOut.model_validate(view)


@router.put("/{session_id}/settings", responses=responses(e.Conflict))
async def put_settings(
    session_id: PathId, body: SessionSettingsIn, svc: Svc, caller: Caller
) -> SessionOut:
    view = await run_in_threadpool(
        sessions.set_fidelity, svc, caller.tenant, session_id, body.user_id, body.fidelity
    )
    return SessionOut.model_validate(view)


@router.get("/{session_id}/messages", responses=responses(e.NotFound))
async def list_messages(
    session_id: PathId,
    svc: Svc,
    caller: Caller,
    offset: int = Query(0, ge=0, le=MaxOffset),
    limit: int = Query(100, ge=1, le=1000),
) -> MessagesPage:
    info, page = await run_in_threadpool(
        sessions.list_messages, svc, caller.tenant, session_id, offset, limit
    )
    return MessagesPage(
        session_id=session_id,
        total=info.message_count,
        trimmed=info.trimmed,
        offset=offset,
        limit=limit,
        messages=[MessageOut.model_validate(m) for m in page],
    )


@router.delete("/{session_id}", status_code=204, responses=responses(e.NotFound))
async def delete(session_id: PathId, svc: Svc, caller: Caller) -> Response:
    await run_in_threadpool(sessions.delete_session, svc, caller.tenant, session_id)
    return Response(status_code=204)


@router.put("/{session_id}/state")
async def put_state(session_id: PathId, body: StateIO, svc: Svc, caller: Caller) -> StateIO:
    state = await run_in_threadpool(sessions.put_state, svc, caller.tenant, session_id, body.state)
    return StateIO(state=state)


@router.get("/{session_id}/state")
async def get_state(session_id: PathId, svc: Svc, caller: Caller) -> StateIO:
    state = await run_in_threadpool(sessions.get_state, svc, caller.tenant, session_id)
    return StateIO(state=state)
