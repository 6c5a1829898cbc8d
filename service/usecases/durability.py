"""When is a write acknowledged: at once (default), or once it is fsynced (strict)."""

from __future__ import annotations

from typing import Literal

from service.usecases.services import Services

Level = Literal["default", "strict"]


def strict(svc: Services, requested: Level | None) -> bool:
    return (requested or svc.settings.durability) == "strict"


def acknowledge(svc: Services) -> None:
    """Return once every write made before this call is on disk (StoreUnavailable if the store
    cannot confirm it: the write may have happened; retrying it is safe, writes are idempotent
    by id)."""
    svc.durability.wait_fsynced()
