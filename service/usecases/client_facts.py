"""Facts under a client's own ids (an Agent Memory Server client names its memories itself):
create-or-overwrite, read, edit and delete by that id, unique per tenant."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import structlog

from service.domain.errors import Conflict, NotFound
from service.domain.models import Fact
from service.domain.validation import check_id
from service.usecases.facts import delete_fact, get_fact, remember_fact, update_fact
from service.usecases.services import Services

log = structlog.get_logger()


def client_fact(svc: Services, tenant: str, client_id: str) -> Fact:
    """The fact a client id names (404 when none, or when it was deleted); a fact written
    without one (through our own API) is named by our id."""
    check_id(client_id, "id")
    fact_id = svc.facts.fact_id_for_client_id(tenant, client_id) or client_id
    try:
        return get_fact(svc, tenant, fact_id)
    except NotFound:
        raise NotFound(f"memory {client_id!r} not found", field="id") from None


def remember_client_fact(
    svc: Services,
    tenant: str,
    client_id: str,
    user_id: str,
    text: str,
    metadata: dict[str, Any],
    valid_from: datetime | None = None,
) -> Fact:
    """Store a fact under the client's id; the id naming a fact already overwrites its text and
    metadata (a new version). A near-duplicate of another fact of the user merges into it: the
    id then names that fact."""
    check_id(client_id, "id")
    try:
        current: Fact | None = client_fact(svc, tenant, client_id)
    except NotFound:
        current = None
    if current is not None:
        return _overwrite(svc, tenant, client_id, current, user_id, text, metadata)
    stored = remember_fact(
        svc, tenant, user_id, text, metadata=metadata, valid_from=valid_from, external_id=client_id
    ).fact
    owner = svc.facts.link_client_id(tenant, client_id, stored.id)
    if owner != stored.id:
        # A stale link (its fact deleted), or a concurrent create of the same id that won.
        winner = svc.facts.get(tenant, owner)
        if winner is None or winner.status == "deleted":
            svc.facts.unlink_client_id(tenant, client_id, owner)
            owner = svc.facts.link_client_id(tenant, client_id, stored.id)
        if owner != stored.id:
            if stored.external_id == client_id:  # ours is the loser: not a second copy
                delete_fact(svc, tenant, stored.id)
            return client_fact(svc, tenant, client_id)
    log.info("facts.client_id_linked", tenant=tenant, fact_id=stored.id)
    return stored


def _overwrite(
    svc: Services,
    tenant: str,
    client_id: str,
    current: Fact,
    user_id: str,
    text: str,
    metadata: dict[str, Any],
) -> Fact:
    if current.user_id != user_id:
        raise Conflict(
            f"memory {client_id!r} belongs to another user", field="user_id", owner=current.user_id
        )
    if (current.text, current.metadata) == (text.strip(), metadata):
        return current
    return update_fact(svc, tenant, current.id, text, metadata)


def edit_client_fact(
    svc: Services,
    tenant: str,
    client_id: str,
    text: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> Fact:
    """Change the text and/or metadata (merged over the stored one) of the fact a client id
    names: a new version."""
    current = client_fact(svc, tenant, client_id)
    merged = {**current.metadata, **(metadata or {})}
    if text is None and merged == current.metadata:
        return current
    return update_fact(svc, tenant, current.id, current.text if text is None else text, merged)


def forget_client_facts(svc: Services, tenant: str, client_ids: Sequence[str]) -> int:
    """Delete the facts the client ids name (history kept, as any delete); ids naming none are
    skipped. Returns how many were deleted."""
    deleted = 0
    for client_id in client_ids:
        try:
            fact = client_fact(svc, tenant, client_id)
        except NotFound:
            continue
        delete_fact(svc, tenant, fact.id)
        svc.facts.unlink_client_id(tenant, client_id, fact.id)
        deleted += 1
    return deleted
