"""Session routes: append turns, read the log, working memory, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response
from starlette.concurrency import run_in_threadpool

from service.api.deps import Caller, Svc
from service.api.durability import DurabilityQuery, acknowledged
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
    StateIn,
    StateOut,
    StateRestoreIn,
    StateVersionOut,
    StateVersionsOut,
)
from service.domain import errors as e
from service.usecases import lineage, sessions

router = APIRouter(prefix="/v1/sessions", tags=["sessions"])


@router.post(
    "/{session_id}/messages", status_code=201, responses=responses(e.Conflict, e.QuotaExceeded)
)
async def append(
    session_id: PathId,
    body: AppendIn,
    svc: Svc,
    caller: Caller,
    durability: DurabilityQuery = None,
) -> AppendOut:
    result = await run_in_threadpool(
        sessions.append_messages,
        svc,
        caller.tenant,
        session_id,
        body.user_id,
        [m.to_domain() for m in body.messages],
    )
    await acknowledged(svc, durability)
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
        sessions.set_session_settings,
        svc,
        caller.tenant,
        session_id,
        body.user_id,
        body.fidelity,
        body.extract_facts,
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


@router.delete(
    "/{session_id}/messages/{message_id}", status_code=204, responses=responses(e.NotFound)
)
async def delete_message(
    session_id: PathId, message_id: PathId, svc: Svc, caller: Caller
) -> Response:
    """Delete one turn; facts derived from it are suspect on return, then re-derived."""
    await run_in_threadpool(lineage.delete_message, svc, caller.tenant, session_id, message_id)
    return Response(status_code=204)


@router.delete("/{session_id}", status_code=204, responses=responses(e.NotFound))
async def delete(session_id: PathId, svc: Svc, caller: Caller) -> Response:
    await run_in_threadpool(sessions.delete_session, svc, caller.tenant, session_id)
    return Response(status_code=204)


@router.put("/{session_id}/state", responses=responses(e.Conflict, e.PreconditionFailed))
async def put_state(
    session_id: PathId,
    body: StateIn,
    svc: Svc,
    caller: Caller,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
) -> StateOut:
    memory = await run_in_threadpool(
        sessions.put_state, svc, caller.tenant, session_id, body.state, body.user_id, if_match
    )
    response.headers["ETag"] = memory.etag
    return StateOut.model_validate(memory)


@router.get("/{session_id}/state")
async def get_state(session_id: PathId, svc: Svc, caller: Caller, response: Response) -> StateOut:
    memory = await run_in_threadpool(sessions.get_state, svc, caller.tenant, session_id)
    response.headers["ETag"] = memory.etag
    return StateOut.model_validate(memory)


@router.get("/{session_id}/state/versions")
async def state_versions(session_id: PathId, svc: Svc, caller: Caller) -> StateVersionsOut:
    found = await run_in_threadpool(sessions.state_versions, svc, caller.tenant, session_id)
    return StateVersionsOut(
        session_id=session_id, versions=[StateVersionOut.model_validate(v) for v in found]
    )


@router.post(
    "/{session_id}/state/restore",
    responses=responses(e.NotFound, e.Conflict, e.PreconditionFailed),
)
async def restore_state(
    session_id: PathId,
    body: StateRestoreIn,
    svc: Svc,
    caller: Caller,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
) -> StateOut:
    """Write a retained version again, as a new version."""
    memory = await run_in_threadpool(
        sessions.restore_state,
        svc,
        caller.tenant,
        session_id,
        body.version,
        body.user_id,
        if_match,
    )
    response.headers["ETag"] = memory.etag
    return StateOut.model_validate(memory)
