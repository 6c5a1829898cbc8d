"""API keys for operators: list a tenant's keys, revoke one (audited)."""

from __future__ import annotations

import structlog

from service.domain.errors import InvalidInput, NotFound
from service.domain.models import ApiKey, Principal
from service.ports import ApiKeys
from service.usecases.services import Services

log = structlog.get_logger()


def list_keys(keys: ApiKeys, caller: Principal) -> list[ApiKey]:
    return keys.list_keys(caller.tenant)


def revoke_key(svc: Services, keys: ApiKeys, caller: Principal, key_id: str) -> ApiKey:
    """Remove one of the caller's tenant's keys; never the key making the call."""
    if key_id == caller.key_id:
        raise InvalidInput("this is the key making the call; revoke it with another admin key")
    found = next((k for k in keys.list_keys(caller.tenant) if k.key_id == key_id), None)
    if found is None or not keys.revoke(caller.tenant, key_id):
        raise NotFound(f"no key {key_id!r} in tenant {caller.tenant!r}")
    now = svc.clock().isoformat()
    svc.audit.record(
        caller.tenant,
        {"at": now, "who": caller.key_id, "action": "revoke_key", "scope": {"key_id": key_id}},
    )
    log.info("keys.revoked", tenant=caller.tenant, who=caller.key_id, key_id=key_id)
    return found
