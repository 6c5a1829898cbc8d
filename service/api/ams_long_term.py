"""Agent Memory Server long-term memory over our facts, under the client's own ids, and its
memory prompt over context assembly."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import Query, Response
from starlette.concurrency import run_in_threadpool

from service.api import ams_records as records
from service.api.ams_routing import Caller, ams_router, errors
from service.api.ams_routing import session_id_of as _sid
from service.api.ams_schemas import (
    AckOut,
    CreateMemoriesIn,
    EditMemoryIn,
    MemoryRecordOut,
    MemoryRecordResultOut,
    MemoryRecordResultsOut,
    PromptIn,
    PromptOut,
    SearchIn,
)
from service.api.deps import Svc
from service.domain import errors as e
from service.usecases import client_facts, sessions
from service.usecases.context import ContextRequest, assemble_context
from service.usecases.facts import CURRENT, list_facts, search_facts
from service.usecases.services import Services

PROMPT_BUDGET = 16_000  # tokens of a memory prompt without context_window_max (AMS's default)
SEARCH_POOL = 500  # facts read per user for one search (filters are checked on these)

router = ams_router()


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
    responses=errors(e.Conflict, e.TooLarge, e.QuotaExceeded, e.InsufficientStorage),
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
    responses=errors(e.NotFound),
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
    responses=errors(e.NotFound, e.Conflict, e.TooLarge),
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
    responses=errors(e.Conflict, e.QuotaExceeded),
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
