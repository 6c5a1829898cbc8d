"""Fact routes: remember, list, get, delete (If-Match), search."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response
from starlette.concurrency import run_in_threadpool

from service.api.deps import Caller, Svc
from service.api.errors import responses
from service.api.schemas import FactIn, FactOut, FactSearchIn, FactsOut, MaxOffset, PathId
from service.domain import errors as e
from service.domain.validation import ID_PATTERN
from service.usecases import facts

router = APIRouter(prefix="/v1/facts", tags=["facts"])


@router.post(
    "",
    status_code=201,
    responses={
        **responses(e.Conflict),
        200: {"model": FactOut, "description": "Merged into an active fact: that fact."},
    },
)
async def remember(body: FactIn, svc: Svc, caller: Caller, response: Response) -> FactOut:
    fact, created = await run_in_threadpool(
        facts.remember_fact, svc, caller.tenant, body.user_id, body.text, body.key, body.metadata
    )
    if not created:
        response.status_code = 200  # a near-duplicate of an active fact: merged, not stored twice
    response.headers["ETag"] = f'"{fact.version}"'
    return FactOut.model_validate(fact)


@router.get("")
async def list_facts(
    svc: Svc,
    caller: Caller,
    user_id: Annotated[str, Query(pattern=ID_PATTERN)],
    offset: int = Query(0, ge=0, le=MaxOffset),
    limit: int = Query(100, ge=1, le=1000),
) -> FactsOut:
    found = await run_in_threadpool(facts.list_facts, svc, caller.tenant, user_id, offset, limit)
    return FactsOut(user_id=user_id, facts=[FactOut.model_validate(f) for f in found])


@router.post("/search")
async def search(body: FactSearchIn, svc: Svc, caller: Caller) -> FactsOut:
    found = await run_in_threadpool(
        facts.search_facts, svc, caller.tenant, body.user_id, body.query, body.limit
    )
    return FactsOut(
        user_id=body.user_id,
        facts=[FactOut.model_validate(f).model_copy(update={"score": s}) for f, s in found],
    )


@router.get("/{fact_id}", responses=responses(e.NotFound))
async def get(fact_id: PathId, svc: Svc, caller: Caller, response: Response) -> FactOut:
    fact = await run_in_threadpool(facts.get_fact, svc, caller.tenant, fact_id)
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
