"""User routes: forget a user."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from service.api.deps import Caller, Svc
from service.api.schemas import UserDeletedOut
from service.usecases import users

router = APIRouter(prefix="/v1/users", tags=["users"])


@router.delete("/{user_id}")
async def delete(user_id: str, svc: Svc, caller: Caller) -> UserDeletedOut:
    """Delete every session, turn, summary, fact (with history), vector, snapshot and cache
    entry of the user; idempotent (all zeros the second time)."""
    done = await run_in_threadpool(users.delete_user, svc, caller, user_id)
    return UserDeletedOut.model_validate(done)
