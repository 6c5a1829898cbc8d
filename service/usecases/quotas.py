"""Per-tenant storage quotas: the limit that applies, and the refusal that names it."""

from __future__ import annotations

from service.domain.errors import QuotaExceeded
from service.domain.models import SessionInfo
from service.usecases.services import Services

# What each quota counts (the unit in the error message).
UNITS = {
    "messages": "messages",
    "documents": "documents",
    "snapshot_bytes": "bytes",
    "facts": "current facts",
}


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


def current_facts(svc: Services, tenant: str) -> int:
    """The tenant's current facts: active, or in an unresolved conflict (what the facts quota
    counts; the counters are kept by the fact writes themselves, exact)."""
    counts = svc.facts.counts(tenant)
    return counts.get("active", 0) + counts.get("conflict", 0)


def check_facts(svc: Services, tenant: str, user_id: str, key: str | None) -> int:
    """The facts quota's limit (0: none), refused now if the tenant is at it and a fact of
    `user_id` on `key` would add a current fact (a key with a current fact is superseded, not
    added to). The store's write checks again, atomically: this only refuses before the work."""
    limit = quota_limit(svc, tenant, "facts")
    if not limit or (used := current_facts(svc, tenant)) < limit:
        return limit
    if key is None or svc.facts.active_for_key(tenant, user_id, key) is None:
        raise refuse("facts", limit, used, 1)
    return limit


def counted_messages(info: SessionInfo) -> int:
    """What a session counts against the messages quota: its log's turns (trimmed ones too:
    their ids and places stay) but those deleted one by one."""
    return max(0, info.message_count - info.deleted)
