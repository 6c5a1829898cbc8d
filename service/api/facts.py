"""Fact routes: remember, list, get, update and delete (If-Match), resolve a conflict, search;
`as_of`/`known_at` views."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response
from starlette.concurrency import run_in_threadpool

from service.api.deps import Caller, Svc
from service.api.durability import DurabilityQuery, acknowledged
from service.api.errors import responses
from service.api.schemas import (
    FactIn,
    FactOut,
    FactSearchIn,
    FactsOut,
    FactUpdateIn,
    MaxOffset,
    PathId,
)
from service.domain import errors as e
from service.domain.validation import ID_PATTERN
from service.usecases import facts
from service.usecases.seen_facts import shown_to

router = APIRouter(prefix="/v1/facts", tags=["facts"])


@router.post(
    "",
    status_code=201,
    responses={
        **responses(e.Conflict, e.NotFound, e.QuotaExceeded),
        200: {"model": FactOut, "description": "Merged into an active fact: that fact."},
    },
)
async def remember(
    body: FactIn,
    svc: Svc,
    caller: Caller,
    response: Response,
    durability: DurabilityQuery = None,
) -> FactOut:
    done = await run_in_threadpool(
        partial(
            facts.remember_fact,
            svc,
            caller.tenant,
            body.user_id,
            body.text,
            body.key,
            body.metadata,
            valid_from=body.valid_from,
            based_on=body.based_on,
            session_id=body.session_id,
        )
    )
    await acknowledged(svc, durability)
    if not done.created:
        response.status_code = 200  # a near-duplicate of an active fact: merged, not stored twice
    response.headers["ETag"] = f'"{done.fact.version}"'
    return FactOut.model_validate(done.fact)


@router.get("")
async def list_facts(
    svc: Svc,
    caller: Caller,
    user_id: Annotated[str, Query(pattern=ID_PATTERN)],
    offset: int = Query(0, ge=0, le=MaxOffset),
    limit: int = Query(100, ge=1, le=1000),
    as_of: datetime | None = None,
    known_at: datetime | None = None,
) -> FactsOut:
    found = await run_in_threadpool(
        facts.list_facts, svc, caller.tenant, user_id, offset, limit, as_of, known_at
    )
    return FactsOut(user_id=user_id, facts=[FactOut.model_validate(f) for f in found])


@router.post("/search", responses=responses(e.NotFound, e.Conflict))
async def search(body: FactSearchIn, svc: Svc, caller: Caller) -> FactsOut:
    found = await run_in_threadpool(
        facts.search_facts,
        svc,
        caller.tenant,
        body.user_id,
        body.query,
        body.limit,
        body.as_of,
        body.known_at,
    )
    shown = [f.fact for f in found]
    await run_in_threadpool(shown_to, svc, caller.tenant, body.session_id, body.user_id, shown)
    return FactsOut(
        user_id=body.user_id,
        facts=[
            FactOut.model_validate(f.fact).model_copy(
                update={"score": f.score, "similarity": f.similarity}
            )
            for f in found
        ],
    )


@router.get("/{fact_id}", responses=responses(e.NotFound, e.Conflict))
async def get(
    fact_id: PathId,
    svc: Svc,
    caller: Caller,
    response: Response,
    session_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
) -> FactOut:
    """One fact (any status). With `session_id`, that session has seen it: its next write to
    the key without `based_on` is based on this fact."""
    fact = await run_in_threadpool(facts.get_fact, svc, caller.tenant, fact_id)
    await run_in_threadpool(shown_to, svc, caller.tenant, session_id, fact.user_id, [fact])
    response.headers["ETag"] = f'"{fact.version}"'
    return FactOut.model_validate(fact)


@router.put("/{fact_id}", responses=responses(e.NotFound, e.PreconditionFailed, e.Conflict))
async def update(
    fact_id: PathId,
    body: FactUpdateIn,
    svc: Svc,
    caller: Caller,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
) -> FactOut:
    fact = await run_in_threadpool(
        facts.update_fact, svc, caller.tenant, fact_id, body.text, body.metadata, if_match
    )
    response.headers["ETag"] = f'"{fact.version}"'
    return FactOut.model_validate(fact)


@router.post(
    "/{fact_id}/resolve", responses=responses(e.NotFound, e.PreconditionFailed, e.Conflict)
)
async def resolve(
    fact_id: PathId,
    svc: Svc,
    caller: Caller,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
) -> FactOut:
    """Settle a conflict: this fact becomes current, the others of its conflict go to history."""
    fact = await run_in_threadpool(facts.resolve_fact, svc, caller.tenant, fact_id, if_match)
    response.headers["ETag"] = f'"{fact.version}"'
    return FactOut.model_validate(fact)


@router.delete(
    "/{fact_id}",
    status_code=204,
    responses=responses(e.NotFound, e.PreconditionFailed, e.Conflict),
)
async def delete(
    fact_id: PathId,
    svc: Svc,
    caller: Caller,
    if_match: Annotated[str | None, Header()] = None,
) -> Response:
    await run_in_threadpool(facts.delete_fact, svc, caller.tenant, fact_id, if_match)
    return Response(status_code=204)
