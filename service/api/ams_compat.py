"""The Redis Agent Memory Server (AMS) REST API, as `agent-memory-client` 0.14 calls it: thin
routes over our use cases (see docs/compat.md for what maps to what, and what cannot).

A working memory is one of our sessions: its messages are the session's live turns (a PUT
replaces them), its `data` is the session's working memory (state), its `context` the
session's rolling summary. Long-term memories are our facts, under the client's own ids.
Errors here answer in AMS's `{"detail": "..."}` shape, not ours."""

from __future__ import annotations

import base64
import binascii
import contextlib
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Annotated, Any, cast

import orjson
import structlog
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.api import ams_records as records
from service.api.ams_schemas import (
    AckOut,
    AmsErrorOut,
    CreateMemoriesIn,
    EditMemoryIn,
    HealthOut,
    MemoryRecordOut,
    MemoryRecordResultOut,
    MemoryRecordResultsOut,
    MessageOut,
    PromptIn,
    PromptOut,
    SearchIn,
    SessionListOut,
    WorkingMemoryIn,
    WorkingMemoryOut,
)
from service.api.deps import Svc, principal_from
from service.api.errors import STATUS, ErrorOut
from service.domain import errors as e
from service.domain.models import NewMessage, Principal, Role
from service.usecases import client_facts, sessions
from service.usecases.context import ContextRequest, assemble_context
from service.usecases.facts import CURRENT, list_facts, search_facts
from service.usecases.replace import replace_messages
from service.usecases.services import Services

log = structlog.get_logger()

TAG = "agent-memory-server"
PROMPT_BUDGET = 16_000  # tokens of a memory prompt without context_window_max (AMS's default)
SEARCH_POOL = 500  # facts read per user for one search (filters are checked on these)
LISTED_MAX = 10_000  # sessions read to filter a listing by namespace


def _detail(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": message}, status, headers=headers)


class AmsRoute(APIRoute):
    """A route whose errors (its key's check included) answer as AMS does: `{"detail"}`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except e.MemoryServiceError as exc:
                status = next((s for t, s in STATUS.items() if isinstance(exc, t)), 500)
                if status >= 500:
                    log.warning("http.store_unavailable", path=request.url.path, error=exc.message)
                headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
                if isinstance(exc, e.RateLimited):
                    headers = {"Retry-After": str(int(exc.details["retry_after_s"]) + 1)}
                where = f"{exc.field}: " if exc.field else ""
                return _detail(status, where + exc.message, headers)
            except RequestValidationError as exc:
                first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid"}
                field = ".".join(str(p) for p in first["loc"][1:]) or "body"
                return _detail(422, f"{field}: {first['msg']}")
            except StarletteHTTPException as exc:
                return _detail(exc.status_code, str(exc.detail))

        return route


def _errors(*raised: type[e.MemoryServiceError]) -> dict[int | str, dict[str, Any]]:
    out: dict[int | str, dict[str, Any]] = {
        STATUS[error]: {"model": AmsErrorOut, "description": error.__doc__} for error in raised
    }
    out[413] = {"model": ErrorOut, "description": "Over max_request_bytes: refused before routing."}
    return out


COMMON = (e.Unauthenticated, e.InvalidInput, e.StoreUnavailable, e.RateLimited)
router = APIRouter(tags=[TAG], route_class=AmsRoute, responses=_errors(*COMMON))
open_router = APIRouter(tags=[TAG], route_class=AmsRoute)  # no key: nothing to refuse


async def ams_principal(request: Request) -> Principal:
    """Our API keys, as Bearer or X-API-Key, or as HTTP Basic's password: the client has no
    header setting, but httpx sends a base URL's `user:key@` as Basic."""
    headers = dict(request.headers)
    given = headers.get("authorization", "")
    if given.lower().startswith("basic "):
        try:
            _, _, key = base64.b64decode(given[6:], validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise e.Unauthenticated("malformed Basic credentials") from None
        headers["authorization"] = f"Bearer {key}"
    return await principal_from(request, headers)


Caller = Annotated[Principal, Depends(ams_principal)]


def _sid(session_id: str, namespace: str | None) -> str:
    """Our session id: AMS keys a session by namespace and id; ours by id alone."""
    return f"{namespace}:{session_id}" if namespace else session_id


@open_router.get("/v1/health", response_model=HealthOut)
async def health() -> HealthOut:
    """AMS's liveness check (no key needed, as there): the server's time."""
    return HealthOut(now=time.time())


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
    responses=_errors(e.NotFound),
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
    responses=_errors(e.Conflict, e.TooLarge, e.QuotaExceeded, e.PreconditionFailed),
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


def _create(svc: Services, tenant: str, body: CreateMemoriesIn) -> None:
    for memory in body.memories:
        client_facts.remember_client_fact(
            svc,
            tenant,
            memory.id,
            records.user_of(memory.user_id),
            memory.text,
            records.metadata(memory),
            memory.event_date,
        )


@router.post(
    "/v1/long-term-memory/",
    response_model=AckOut,
    responses=_errors(e.Conflict, e.TooLarge, e.QuotaExceeded, e.InsufficientStorage),
)
async def create_long_term_memory(body: CreateMemoriesIn, svc: Svc, caller: Caller) -> AckOut:
    """Store memories under their own ids (an id already stored is overwritten); searchable
    on return (AMS indexes them in the background)."""
    await run_in_threadpool(_create, svc, caller.tenant, body)
    return AckOut(status="ok")


def _search(svc: Services, tenant: str, body: SearchIn) -> MemoryRecordResultsOut:
    found: list[tuple[float, int, Any]] = []
    named = records.users(body)
    if named is None and not body.text.strip():
        raise e.InvalidInput("a search without text lists one user's memories: name user_id")
    scopes: list[str | None] = list(named) if named is not None else [None]
    for user in scopes:
        if body.text.strip():
            hits = search_facts(svc, tenant, user, body.text, SEARCH_POOL)
            scored = [(1.0 - (h.similarity or 0.0), h.fact) for h in hits]
        else:
            facts = list_facts(svc, tenant, user or records.ANONYMOUS, 0, SEARCH_POOL)
            scored = [(0.0, f) for f in facts if f.status in CURRENT]
        for dist, fact in scored:
            dist = round(dist, 6)
            within = body.distance_threshold is None or dist <= body.distance_threshold
            if within and records.matches(body, fact):
                found.append((dist, len(found), fact))
    found.sort(key=lambda item: (item[0], item[1]))
    page = found[body.offset : body.offset + body.limit]
    more = len(found) > body.offset + body.limit
    return MemoryRecordResultsOut(
        memories=[
            MemoryRecordResultOut(**records.record(fact).model_dump(), dist=dist)
            for dist, _, fact in page
        ],
        total=len(found),
        next_offset=body.offset + body.limit if more else None,
    )


@router.post("/v1/long-term-memory/search", response_model=MemoryRecordResultsOut)
async def search_long_term_memory(
    body: SearchIn, svc: Svc, caller: Caller, optimize_query: bool = False
) -> MemoryRecordResultsOut:
    """Memories nearest the text (all, without text) that pass the filters, nearest first;
    `dist` is 1 - cosine similarity. `optimize_query` is accepted and ignored."""
    return await run_in_threadpool(_search, svc, caller.tenant, body)


@router.delete("/v1/long-term-memory", response_model=AckOut)
async def delete_long_term_memories(
    svc: Svc,
    caller: Caller,
    memory_ids: Annotated[list[str] | None, Query()] = None,
) -> AckOut:
    """Delete memories by the client's ids; unknown ids are skipped."""
    ids = memory_ids or []
    count = await run_in_threadpool(client_facts.forget_client_facts, svc, caller.tenant, ids)
    return AckOut(status=f"ok, deleted {count} memories")


@router.get(
    "/v1/long-term-memory/{memory_id}",
    response_model=MemoryRecordOut,
    responses=_errors(e.NotFound),
)
async def get_long_term_memory(memory_id: str, svc: Svc, caller: Caller) -> MemoryRecordOut:
    fact = await run_in_threadpool(client_facts.client_fact, svc, caller.tenant, memory_id)
    return records.record(fact, memory_id)


def _edit(svc: Services, tenant: str, memory_id: str, body: EditMemoryIn) -> MemoryRecordOut:
    fact = client_facts.client_fact(svc, tenant, memory_id)
    if body.user_id is not None and records.user_of(body.user_id) != fact.user_id:
        raise e.InvalidInput("a memory cannot move to another user", field="user_id")
    changes = records.edits(body)
    if body.text is None and not changes:
        raise e.InvalidInput("no fields to update")
    edited = client_facts.edit_client_fact(svc, tenant, memory_id, body.text, changes)
    return records.record(edited, memory_id)


@router.patch(
    "/v1/long-term-memory/{memory_id}",
    response_model=MemoryRecordOut,
    responses=_errors(e.NotFound, e.Conflict, e.TooLarge),
)
async def edit_long_term_memory(
    memory_id: str, body: EditMemoryIn, svc: Svc, caller: Caller
) -> MemoryRecordOut:
    """Change a memory's text and fields: a new version of the fact, re-embedded."""
    return await run_in_threadpool(_edit, svc, caller.tenant, memory_id, body)


def _prompt(svc: Services, tenant: str, body: PromptIn) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    if body.session is not None:
        s = body.session
        sid = _sid(s.session_id, s.namespace)
        user = sessions.session_owner(svc, tenant, sid) or records.user_of(s.user_id)
        budget = min(s.context_window_max or PROMPT_BUDGET, svc.settings.max_budget_tokens)
        request = ContextRequest(
            session_id=sid, user_id=user, budget_tokens=budget, query=body.query
        )
        messages += assemble_context(svc, tenant, request).messages
    if body.long_term_search is not None:
        found = _search(svc, tenant, body.long_term_search).memories
        if found:
            lines = "\n".join(f"- {m.text}" for m in found)
            messages.append(
                {
                    "role": "system",
                    "content": f"## Long term memories related to the user's query\n{lines}",
                }
            )
    messages.append({"role": "user", "content": body.query})
    return messages


@router.post(
    "/v1/memory/prompt",
    response_model=PromptOut,
    responses=_errors(e.Conflict, e.QuotaExceeded),
)
async def memory_prompt(
    body: PromptIn, svc: Svc, caller: Caller, optimize_query: bool = False
) -> Response:
    """The query hydrated with memory: the session's context as /v1/context assembles it
    (summary, facts, recalled and recent turns) when a session is named, the long-term
    memories the search finds, then the query as the user's turn."""
    messages = await run_in_threadpool(_prompt, svc, caller.tenant, body)
    # As assembled (a model's defaults would add `"name": null` to every message).
    return Response(orjson.dumps({"messages": messages}), media_type="application/json")
