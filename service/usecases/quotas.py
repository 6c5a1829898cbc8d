"""Per-tenant storage quotas: the limit that applies, and the refusal that names it."""

from __future__ import annotations

from service.domain.errors import QuotaExceeded
from service.domain.models import SessionInfo
from service.usecases.services import Services

# What each quota counts (the unit in the error message).
UNITS = {"messages": "messages", "documents": "documents", "snapshot_bytes": "bytes"}


def quota_limit(svc: Services, tenant: str, quota: str) -> int:
    """The tenant's limit for `quota` (its override, else the service default); 0 = none."""
    for name, limit in svc.settings.quotas.get(tenant, {}).items():
        if name == quota:
            return limit
    return int(getattr(svc.settings, f"quota_{quota}"))


def refuse(quota: str, limit: int, used: int, adding: int) -> QuotaExceeded:
    return QuotaExceeded(
        f"the tenant's {quota} quota is {limit} {UNITS[quota]}; {used} are used and this write "
        f"adds {adding}. Delete some, or ask the operator to raise the quota",
        quota=quota,
        limit=limit,
        used=used,
        requested=adding,
    )


def refuse_snapshot(limit: int, size: int) -> QuotaExceeded:
    """One context snapshot is larger than the tenant's snapshot_bytes quota allows."""
    return QuotaExceeded(
        f"this context's snapshot would take {size} bytes; the tenant's snapshot_bytes quota "
        f"is {limit} bytes per snapshot (nothing was stored). Ask for a smaller budget_tokens, "
        "or the operator to raise the quota",
        quota="snapshot_bytes",
        limit=limit,
        used=0,
        requested=size,
    )


def reserve(svc: Services, tenant: str, quota: str, n: int) -> None:
    """Count `n` against the tenant's counted `quota`, or raise QuotaExceeded (nothing counted)."""
    limit = quota_limit(svc, tenant, quota)
    used = svc.quotas.reserve(tenant, quota, n, limit)
    if used is not None:
        raise refuse(quota, limit, used, n)


def counted_messages(info: SessionInfo) -> int:
    """What a session counts against the messages quota: its log's turns (trimmed ones too:
    their ids and places stay) but those deleted one by one."""
    return max(0, info.message_count - info.deleted)
