"""The `durability` query parameter of writes, and waiting for it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from starlette.concurrency import run_in_threadpool

from service.usecases import durability
from service.usecases.services import Services

DurabilityQuery = Annotated[
    durability.Level | None,
    Query(
        description="`strict`: answer only once the write is fsynced; default: the "
        "`durability` setting"
    ),
]


async def acknowledged(svc: Services, requested: durability.Level | None) -> None:
    if durability.strict(svc, requested):
        await run_in_threadpool(durability.acknowledge, svc)
