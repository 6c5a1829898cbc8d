"""Turns whose body left the log (trimmed), read back from their recall vectors' payloads."""

from __future__ import annotations

from service.domain.models import Message
from service.domain.points import message_from_payload, message_point_id
from service.usecases.services import Services

RETRIEVE_BATCH = 256  # points per lookup when rebuilding trimmed turns


def turns_from_index(
    svc: Services, tenant: str, session_id: str, epoch: int, ids: set[str]
) -> list[Message]:
    """Trimmed turns of this epoch, rebuilt from their recall vectors' payloads (fetched by
    point id: a lookup, not a filtered scan)."""
    points = [message_point_id(tenant, session_id, epoch, i) for i in sorted(ids)]
    out: list[Message] = []
    for start in range(0, len(points), RETRIEVE_BATCH):
        hits = svc.index.retrieve(points[start : start + RETRIEVE_BATCH])
        out += [m for m in (message_from_payload(tenant, h.payload) for h in hits) if m]
    return out
