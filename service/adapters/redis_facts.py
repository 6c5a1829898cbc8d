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

from service.adapters.redis_client import Keys, redis_errors, text, unsegment
from service.domain.errors import QuotaExceeded
from service.domain.facts import source_session
from service.domain.models import Fact

# Every script that writes a record moves it between the tenant's per-status counters (its counts
# hash, same hash tag) in the same step: the counts are exact, whatever crashes or races. Field
# "w" counts the moves, so a recount can tell that nothing moved while it scanned.
_COUNTS = """
local function status_of(body)
  if not body then return false end
  return cjson.decode(body).status
end
local function move(counts, old, new)
  if old == new then return end
  if old then redis.call('HINCRBY', counts, old, -1) end
  if new then redis.call('HINCRBY', counts, new, 1) end
  redis.call('HINCRBY', counts, 'w', 1)
end
local function is_current(status)
  if status == 'active' or status == 'conflict' then return 1 end
  return 0
end
"""

# KEYS: new record, user index, slot, previous record (slot and previous: the new record's key
# when unused; all share the tenant's hash tag), counts, then one lineage set per source id.
# ARGV: new body, score, new id, previous id ("" = none expected), previous version, superseded
# body, "1" if the fact claims its key slot, the most current (active or conflict) facts the
# tenant may have after this write (0 = no limit).
# Compare-and-set: the slot must still point at the previous fact, still active at the version
# read, so racing writers to one key serialize instead of both superseding the same fact.
# Returns 1 (stored), 0 (lost a race) or -1 - used (past the limit: nothing written).
_PUT = (
    _COUNTS
    + """
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
local new, old = cjson.decode(ARGV[1]).status, status_of(redis.call('GET', KEYS[1]))
local prev_new, prev_old = false, false
if ARGV[4] ~= '' then
  prev_new, prev_old = cjson.decode(ARGV[6]).status, status_of(redis.call('GET', KEYS[4]))
end
local limit = tonumber(ARGV[8])
local grows = is_current(new) - is_current(old) + is_current(prev_new) - is_current(prev_old)
if limit > 0 and grows > 0 then
  local used = tonumber(redis.call('HGET', KEYS[5], 'active') or '0')
    + tonumber(redis.call('HGET', KEYS[5], 'conflict') or '0')
  if used + grows > limit then return -1 - used end
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
move(KEYS[5], old, new)
if ARGV[4] ~= '' then
  redis.call('SET', KEYS[4], ARGV[6])
  move(KEYS[5], prev_old, prev_new)
end
if ARGV[7] == '1' then redis.call('SET', KEYS[3], ARGV[3]) end
for i = 6, #KEYS do redis.call('SADD', KEYS[i], ARGV[3]) end
return 1
"""
)

# KEYS: record, user index, slot (record key when unused), counts. ARGV: expected version,
# deleted body, fact id, "1" if the fact has a key slot. The slot is freed only if it still
# points here.
_DELETE = (
    _COUNTS
    + """
local body = redis.call('GET', KEYS[1])
if not body or tostring(cjson.decode(body).version) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
move(KEYS[4], status_of(body), cjson.decode(ARGV[2]).status)
redis.call('ZREM', KEYS[2], ARGV[3])
if ARGV[4] == '1' and redis.call('GET', KEYS[3]) == ARGV[3] then redis.call('DEL', KEYS[3]) end
return 1
"""
)


# KEYS: record, slot (the record's key when unused), counts. ARGV: expected version, new body,
# fact id, "1" to point the slot at this fact, "2" to free the slot if it points here.
# Compare-and-set on the record's version.
_REPLACE = (
    _COUNTS
    + """
local body = redis.call('GET', KEYS[1])
if not body or tostring(cjson.decode(body).version) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
move(KEYS[3], status_of(body), cjson.decode(ARGV[2]).status)
if ARGV[4] == '1' then redis.call('SET', KEYS[2], ARGV[3]) end
if ARGV[4] == '2' and redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
return 1
"""
)


# KEYS: record, counts. ARGV: user id. Removes the record if it is that user's (the counts with
# it); returns its body, or false.
_PURGE = (
    _COUNTS
    + """
local body = redis.call('GET', KEYS[1])
if not body then return false end
local fact = cjson.decode(body)
if fact.user_id ~= ARGV[1] then return false end
redis.call('DEL', KEYS[1])
move(KEYS[2], fact.status, false)
return body
"""
)

# KEYS: counts. ARGV: the moves counted ("w") when the recount began, then status, n pairs.
# Replaces the counts only if no write moved a record meanwhile (else the scan is stale).
_SET_COUNTS = """
if (redis.call('HGET', KEYS[1], 'w') or '0') ~= ARGV[1] then return 0 end
local w = redis.call('HGET', KEYS[1], 'w') or '0'
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'w', w)
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
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
        self._purge = client.register_script(_PURGE)
        self._set_counts = client.register_script(_SET_COUNTS)

    def put(
        self,
        fact: Fact,
        previous: Fact | None,
        superseded: Fact | None,
        claim_slot: bool = True,
        limit: int = 0,
    ) -> bool:
        """Store `fact`; if it has a key (and claims the slot), only while `previous` is still
        the slot's active fact (at its version), replacing it by `superseded`. A fact that does
        not claim the slot goes into history beside it. False: lost a race, read again.
        `limit`: the current facts the tenant may have after the write (0: any); past it,
        QuotaExceeded and nothing is written."""
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
            limit,
        ]
        keys = [record, Keys.user_facts(fact.tenant, fact.user_id), slot, prev_key]
        keys += [Keys.fact_counts(fact.tenant)]
        keys += [Keys.fact_lineage(fact.tenant, source) for source in _sources(fact.lineage)]
        with redis_errors():
            done = int(self._put(keys=keys, args=args))
            if done < 0:
                used = -1 - done
                raise QuotaExceeded(
                    f"{used} current facts of at most {limit}",
                    quota="facts",
                    limit=limit,
                    used=used,
                    requested=1,
                )
            stored = done == 1
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
        keys = [record, slot, Keys.fact_counts(fact.tenant)]
        with redis_errors():
            return bool(self._replace(keys=keys, args=args))

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
        keys += [Keys.fact_counts(fact.tenant)]
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
        counts = Keys.fact_counts(tenant)
        with redis_errors():
            for key in self._r.scan_iter(match=Keys.fact_pattern(tenant), count=1000):
                raw = self._purge(keys=[key, counts], args=[user_id])
                if isinstance(raw, bytes):  # the user's (others' and ones gone meanwhile: None)
                    self._r.zrem(Keys.retired_facts(), key)
                    gone.append(_decode(raw))
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

    def counts(self, tenant: str) -> dict[str, int]:
        """The tenant's fact records per status (kept by every write, exact)."""
        with redis_errors():
            raw = self._r.hgetall(Keys.fact_counts(tenant))
        return {text(k): int(v) for k, v in raw.items() if text(k) != "w" and int(v)}

    def recount(self) -> dict[str, tuple[dict[str, int], dict[str, int]]]:
        """Count every tenant's records per status from the records themselves (a SCAN) and set
        the counters where they differ; returns {tenant: (counted before, counted now)} for
        those. A tenant whose facts changed during the scan keeps its counters (they are
        exact from the writes; the next recount checks again)."""
        moves: dict[str, str] = {}
        found: dict[str, dict[str, int]] = {}
        with redis_errors():
            for tenant, fields in self._read_counts_hashes().items():
                moves[tenant] = fields.get("w", "0")
            names: list[str] = []
            for key in self._r.scan_iter(match=Keys.all_facts_pattern(), count=1000):
                if Keys.is_fact(name := text(key)):
                    names.append(name)
                if len(names) >= 1000:
                    self._tally(names, found)
                    names = []
            self._tally(names, found)
            drift: dict[str, tuple[dict[str, int], dict[str, int]]] = {}
            for tenant in sorted(set(found) | set(moves)):
                before = self.counts(tenant)
                after = found.get(tenant, {})
                if before == after:
                    continue
                args: list[str | int] = [moves.get(tenant, "0")]
                for status, n in sorted(after.items()):
                    args += [status, n]
                if self._set_counts(keys=[Keys.fact_counts(tenant)], args=args):
                    drift[tenant] = (before, after)
        return drift

    def _tally(self, names: list[str], found: dict[str, dict[str, int]]) -> None:
        """Add these records' statuses to `found` (tenant -> status -> n)."""
        if not names:
            return
        bodies: list[bytes | None] = self._r.mget(names)  # type: ignore[assignment]
        for name, body in zip(names, bodies, strict=True):
            if body is None:
                continue  # removed meanwhile (its move shows in "w")
            per = found.setdefault(Keys.parse_fact(name)[0], {})
            status = str(json.loads(body)["status"])
            per[status] = per.get(status, 0) + 1

    def _read_counts_hashes(self) -> dict[str, dict[str, str]]:
        """Every tenant's counts hash (read before a recount scans)."""
        out: dict[str, dict[str, str]] = {}
        for key in self._r.scan_iter(match=Keys.fact_counts("*"), count=100):
            tag = text(key).split("{t:", 1)[1].split("}", 1)[0]
            if ":" not in tag:  # a tenant's (a session's tag holds ":s:")
                raw = self._r.hgetall(key)
                out[unsegment(tag)] = {text(k): text(v) for k, v in raw.items()}
        return out


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
