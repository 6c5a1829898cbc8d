"""Session routes: append turns, read the log, working memory, delete."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response
from starlette.concurrency import run_in_threadpool

from service.api.deps import Caller, Svc
from service.api.schemas import (
    AppendIn,
    AppendOut,
    MaxOffset,
    MessageOut,
    MessagesPage,
    SessionOut,
    SessionSettingsIn,
    StateIO,
    SummaryOut,
)
from service.usecases import sessions

router = APIRouter(prefix="/v1/sessions", tags=["sessions"])


@router.post("/{session_id}/messages", status_code=201)
async def append(session_id: str, body: AppendIn, svc: Svc, caller: Caller) -> AppendOut:
    result = await run_in_threadpool(
        sessions.append_messages,
        svc,
        caller.tenant,
        session_id,
        body.user_id,
        [m.to_domain() for m in body.messages],
    )
    return AppendOut(
        session_id=session_id,
        appended=result.appended,
        duplicates=result.duplicates,
        message_ids=result.message_ids,
    )


@router.get("/{session_id}")
async def get(session_id: str, svc: Svc, caller: Caller) -> SessionOut:
    view = await run_in_threadpool(sessions.describe_session, svc, caller.tenant, session_id)
    return _session_out(view)


@router.put("/{session_id}/settings")
async def put_settings(
    session_id: str, body: SessionSettingsIn, svc: Svc, caller: Caller
) -> SessionOut:
    view = await run_in_threadpool(
        sessions.set_fidelity, svc, caller.tenant, session_id, body.user_id, body.fidelity
    )
    return _session_out(view)


def _session_out(view: sessions.SessionView) -> SessionOut:
    info, summary = view.info, view.summary
    return SessionOut(
        session_id=info.session_id,
        user_id=info.user_id,
        messages=info.message_count,
        tokens=info.tokens,
        indexed=info.indexed,
        pending=info.pending,
        fidelity=view.fidelity,
        trimmed=info.trimmed,
        summary=None
        if summary is None
        else SummaryOut(
            version=summary.version,
            first_seq=summary.first_seq,
            last_seq=summary.last_seq,
            messages=summary.messages,
            tokens=summary.tokens,
            summarizer=summary.summarizer,
            created_at=summary.created_at,
        ),
    )


@router.get("/{session_id}/messages")
async def list_messages(
    session_id: str,
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
        messages=[MessageOut.of(m) for m in page],
    )


@router.delete("/{session_id}", status_code=204)
async def delete(session_id: str, svc: Svc, caller: Caller) -> Response:
    await run_in_threadpool(sessions.delete_session, svc, caller.tenant, session_id)
    return Response(status_code=204)


@router.put("/{session_id}/state")
async def put_state(session_id: str, body: StateIO, svc: Svc, caller: Caller) -> StateIO:
    state = await run_in_threadpool(sessions.put_state, svc, caller.tenant, session_id, body.state)
    return StateIO(state=state)


@router.get("/{session_id}/state")
async def get_state(session_id: str, svc: Svc, caller: Caller) -> StateIO:
    state = await run_in_threadpool(sessions.get_state, svc, caller.tenant, session_id)
    return StateIO(state=state)
