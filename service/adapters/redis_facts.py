"""RedisFactStore: fact records, a per-user index by time, and one active fact per key slot."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

import redis

from service.adapters.redis_client import Keys, redis_errors, text
from service.domain.facts import source_session
from service.domain.models import Fact

# KEYS: new record, user index, slot, previous record (slot and previous: the new record's key
# when unused; all share the tenant's hash tag), then one lineage set per source id. ARGV: new
# body, score, new id, previous id ("" = none expected), previous version, superseded body, "1"
# if the fact claims its key slot.
# Compare-and-set: the slot must still point at the previous fact, still active at the version
# read, so racing writers to one key serialize instead of both superseding the same fact.
_PUT = """
if ARGV[7] == '1' then
  local current = redis.call('GET', KEYS[3]) or ''
  if current ~= ARGV[4] then return 0 end
  if ARGV[4] ~= '' then
    local body = redis.call('GET', KEYS[4])
    if not body then return 0 end
    local previous = cjson.decode(body)
    if (previous.status ~= 'active' and previous.status ~= 'conflict')
      or tostring(previous.version) ~= ARGV[5] then return 0 end
  end
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
if ARGV[4] ~= '' then redis.call('SET', KEYS[4], ARGV[6]) end
if ARGV[7] == '1' then redis.call('SET', KEYS[3], ARGV[3]) end
for i = 5, #KEYS do redis.call('SADD', KEYS[i], ARGV[3]) end
return 1
"""

# KEYS: record, user index, slot (record key when unused). ARGV: expected version, deleted body,
# fact id, "1" if the fact has a key slot. The slot is freed only if it still points here.
_DELETE = """
local body = redis.call('GET', KEYS[1])
if not body or tostring(cjson.decode(body).version) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[3])
if ARGV[4] == '1' and redis.call('GET', KEYS[3]) == ARGV[3] then redis.call('DEL', KEYS[3]) end
return 1
"""


# KEYS: record, slot (the record's key when unused). ARGV: expected version, new body, fact id,
# "1" to point the slot at this fact, "2" to free the slot if it points here. Compare-and-set on
# the record's version.
_REPLACE = """
local body = redis.call('GET', KEYS[1])
if not body or tostring(cjson.decode(body).version) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
if ARGV[4] == '1' then redis.call('SET', KEYS[2], ARGV[3]) end
if ARGV[4] == '2' and redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
return 1
"""


# KEYS: client ids hash. ARGV: client id, fact id. Compare-and-delete.
_UNLINK = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]) end
return 1
"""


class RedisFactStore:
    """Implements FactStore on Redis; the record, not the vector, is the truth."""

    def __init__(self, client: redis.Redis) -> None:
        self._r = client
        self._put = client.register_script(_PUT)
        self._delete = client.register_script(_DELETE)
        self._replace = client.register_script(_REPLACE)
        self._unlink = client.register_script(_UNLINK)

    def put(
        self,
        fact: Fact,
        previous: Fact | None,
        superseded: Fact | None,
        claim_slot: bool = True,
    ) -> bool:
        """Store `fact`; if it has a key (and claims the slot), only while `previous` is still
        the slot's active fact (at its version), replacing it by `superseded`. A fact that does
        not claim the slot goes into history beside it. False: lost a race, read again."""
        record = Keys.fact(fact.tenant, fact.id)
        claims = bool(fact.key) and claim_slot
        slot = Keys.fact_slot(fact.tenant, fact.user_id, fact.key) if fact.key else record
        prev_key = Keys.fact(fact.tenant, previous.id) if previous else record
        args: list[str | int | float] = [
            _encode(fact),
            fact.recorded_at.timestamp(),
            fact.id,
            previous.id if previous else "",
            previous.version if previous else "",
            _encode(superseded) if superseded else "",
            "1" if claims else "0",
        ]
        keys = [record, Keys.user_facts(fact.tenant, fact.user_id), slot, prev_key]
        keys += [Keys.fact_lineage(fact.tenant, source) for source in _sources(fact.lineage)]
        with redis_errors():
            stored = bool(self._put(keys=keys, args=args))
            if stored and superseded is not None:
                self._retired(superseded)
        return stored

    def _retired(self, fact: Fact) -> None:
        """Index a superseded or deleted version for the text retention sweep (another slot
        than the fact: outside the script)."""
        now_ms = int(time.time() * 1000)
        self._r.zadd(Keys.retired_facts(), {Keys.fact(fact.tenant, fact.id): now_ms})

    def retired(self, before_ms: int, limit: int) -> list[tuple[str, str]]:
        """(tenant, fact_id) of versions superseded or deleted before `before_ms`."""
        with redis_errors():
            keys = self._r.zrangebyscore(Keys.retired_facts(), "-inf", before_ms, 0, limit)
        return [Keys.parse_fact(text(k)) for k in keys]

    def redact(self, tenant: str, fact_id: str) -> bool:
        """Drop a retired version's text (the record, its dates and lineage stay); False if it
        is not superseded or deleted (any more)."""
        key = Keys.fact(tenant, fact_id)
        with redis_errors():
            raw = self._r.get(key)
            fact = _decode(raw) if isinstance(raw, bytes) else None
            done = fact is not None and fact.status in ("superseded", "deleted")
            if done and fact is not None and fact.text:
                self._r.set(key, _encode(dataclasses.replace(fact, text="")), xx=True)
            self._r.zrem(Keys.retired_facts(), key)
        return done

    def get(self, tenant: str, fact_id: str) -> Fact | None:
        return self.get_many(tenant, [fact_id])[0]

    def get_many(self, tenant: str, ids: Sequence[str]) -> list[Fact | None]:
        if not ids:
            return []
        with redis_errors():
            bodies: list[bytes | None] = self._r.mget(  # type: ignore[assignment]
                [Keys.fact(tenant, i) for i in ids]
            )
        return [None if b is None else _decode(b) for b in bodies]

    def derived_from(self, tenant: str, source_id: str) -> list[str]:
        with redis_errors():
            ids = self._r.smembers(Keys.fact_lineage(tenant, source_id))
        return sorted(text(i) for i in ids)

    def active_for_key(self, tenant: str, user_id: str, key: str) -> Fact | None:
        with redis_errors():
            fact_id = self._r.get(Keys.fact_slot(tenant, user_id, key))
        if fact_id is None:
            return None
        fact = self.get(tenant, text(fact_id))
        return fact if fact is not None and fact.status in ("active", "conflict") else None

    def replace(
        self, fact: Fact, expected_version: int, claim_slot: bool = False, free_slot: bool = False
    ) -> bool:
        """Store `fact` over its record if that is still at `expected_version`; with
        `claim_slot` its key's slot points at it, with `free_slot` no longer. False: it
        changed."""
        record = Keys.fact(fact.tenant, fact.id)
        slot = Keys.fact_slot(fact.tenant, fact.user_id, fact.key) if fact.key else record
        mode = "1" if claim_slot and fact.key else "2" if free_slot and fact.key else "0"
        args: list[str | int] = [expected_version, _encode(fact), fact.id, mode]
        with redis_errors():
            return bool(self._replace(keys=[record, slot], args=args))

    def list_for_user(self, tenant: str, user_id: str, offset: int, limit: int) -> list[Fact]:
        with redis_errors():
            ids = self._r.zrange(Keys.user_facts(tenant, user_id), offset, offset + limit - 1)
        facts = self.get_many(tenant, [text(i) for i in ids])
        return [f for f in facts if f is not None]

    def delete(self, fact: Fact, expected_version: int) -> bool:
        """Store `fact` (status deleted) if the record is still at `expected_version`; keep it
        (history) but drop it from the user's index and its key slot. False: it changed."""
        record = Keys.fact(fact.tenant, fact.id)
        slot = Keys.fact_slot(fact.tenant, fact.user_id, fact.key) if fact.key else record
        keys = [record, Keys.user_facts(fact.tenant, fact.user_id), slot]
        args: list[str | int] = [expected_version, _encode(fact), fact.id, "1" if fact.key else "0"]
        with redis_errors():
            deleted = bool(self._delete(keys=keys, args=args))
            if deleted:
                self._retired(fact)
        return deleted

    def purge_user(self, tenant: str, user_id: str) -> list[Fact]:
        """Remove every fact record of the user, history included, with its index and key
        slots (a SCAN of the tenant's facts: deleted facts are in no index); returns them."""
        gone: list[Fact] = []
        with redis_errors():
            for key in self._r.scan_iter(match=Keys.fact_pattern(tenant), count=1000):
                raw = self._r.get(key)
                if not isinstance(raw, bytes):
                    continue  # gone meanwhile
                fact = _decode(raw)
                if fact.user_id == user_id:
                    self._r.delete(key)
                    self._r.zrem(Keys.retired_facts(), key)
                    gone.append(fact)
            slots = list(
                self._r.scan_iter(match=Keys.fact_slot_pattern(tenant, user_id), count=1000)
            )
            self._r.delete(Keys.user_facts(tenant, user_id), *slots)
        for fact in gone:
            if fact.external_id:
                self.unlink_client_id(tenant, fact.external_id, fact.id)
        return gone

    def link_client_id(self, tenant: str, client_id: str, fact_id: str) -> str:
        """Point a client's own id at a fact unless it points at one already; returns the fact
        id it points at now (unique per tenant: the first link wins)."""
        key = Keys.fact_client_ids(tenant)
        with redis_errors():
            pipe = self._r.pipeline(transaction=True)
            pipe.hsetnx(key, client_id, fact_id)
            pipe.hget(key, client_id)
            _, owner = pipe.execute()
        return text(owner)

    def fact_id_for_client_id(self, tenant: str, client_id: str) -> str | None:
        with redis_errors():
            found = self._r.hget(Keys.fact_client_ids(tenant), client_id)
        return None if found is None else text(found)

    def unlink_client_id(self, tenant: str, client_id: str, fact_id: str) -> None:
        """Free a client id if it still points at `fact_id`."""
        with redis_errors():
            self._unlink(keys=[Keys.fact_client_ids(tenant)], args=[client_id, fact_id])


def _sources(lineage: Sequence[str]) -> list[str]:
    """What a fact is indexed under: each source, and each turn's session (session deletion
    finds its facts in one read)."""
    out = dict.fromkeys(lineage)
    for source in lineage:
        session_id = source_session(source)
        if session_id is not None:
            out[session_id] = None
    return list(out)


def _encode(fact: Fact) -> str:
    body: dict[str, Any] = asdict(fact)
    for name in ("recorded_at", "valid_from", "valid_to"):
        value = body[name]
        body[name] = value.isoformat() if value is not None else None
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def _decode(raw: bytes) -> Fact:
    d = json.loads(raw)
    for name in ("recorded_at", "valid_from", "valid_to"):
        if d[name] is not None:
            d[name] = datetime.fromisoformat(d[name])
    return Fact(**d)
