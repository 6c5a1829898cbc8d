"""RedisSessionStore: sessions as append-only logs, appended atomically by a Lua script."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson
import redis

from service.adapters.redis_client import Keys, redis_errors, text
from service.adapters.redis_summaries import decode_summary
from service.domain.errors import Conflict
from service.domain.models import AppendResult, Message, NewMessage, SessionHead, SessionInfo

# KEYS: meta, log, msgs, pending, epoch. ARGV: user_id, now, then (id, body, tokens) triples.
# Idempotent by message id (HSETNX); the owner of a session never changes.
_APPEND = """
local owner = redis.call('HGET', KEYS[1], 'user_id')
if owner and owner ~= ARGV[1] then return {-1, owner} end
if not owner then redis.call('HSET', KEYS[1], 'user_id', ARGV[1], 'created_at', ARGV[2]) end
local epoch = tonumber(redis.call('GET', KEYS[5]) or '0')
local out = {epoch, 0, 0}  -- epoch, then the session's size after: messages, tokens
local added = 0
local seq = redis.call('LLEN', KEYS[2])
for i = 3, #ARGV, 3 do
  local body = string.gsub(ARGV[i + 1], '"seq":%-1', '"seq":' .. seq, 1)
  if redis.call('HSETNX', KEYS[3], ARGV[i], body) == 1 then
    redis.call('RPUSH', KEYS[2], ARGV[i])
    redis.call('SADD', KEYS[4], ARGV[i])
    redis.call('HINCRBY', KEYS[1], 'tokens', tonumber(ARGV[i + 2]))
    seq = seq + 1
    added = added + 1
    table.insert(out, 1)
  else
    table.insert(out, 0)
  end
end
out[2] = seq
out[3] = tonumber(redis.call('HGET', KEYS[1], 'tokens') or '0')
return out
"""

# KEYS: meta, log, msgs, pending, epoch, state, summary. ARGV: history_limit (0 = none),
# max_tokens, want_last_user (0/1), LAST_USER_SCAN. A context's reads of the session before any
# search, in one round trip: the header, state, summary, the turns after the summary newest
# first (stopping once their stored counts pass max_tokens: "tokens" is encoded before
# any free text, so the first match is the real one) and the last user turn
# (looked for among those first, then further back, at most LAST_USER_SCAN turns).
_HEAD = """
local meta = redis.call('HGETALL', KEYS[1])
if #meta == 0 then return {meta, 0, 0, '0', redis.call('GET', KEYS[6]) or '', '', {}, ''} end
local count = redis.call('LLEN', KEYS[2])
local pending = redis.call('SCARD', KEYS[4])
local epoch = redis.call('GET', KEYS[5]) or '0'
local state = redis.call('GET', KEYS[6]) or ''
local summary = redis.call('GET', KEYS[7]) or ''
local covered = 0
if summary ~= '' then covered = tonumber(cjson.decode(summary).last_seq) + 1 end
local limit = count - covered
local history_limit = tonumber(ARGV[1])
if history_limit > 0 and limit > history_limit then limit = history_limit end
local max_tokens = tonumber(ARGV[2])
local want_user = ARGV[3] == '1'
local recent = {}
local last_user = ''
local total = 0
local hi = count - 1
local lo_limit = count - limit
while hi >= lo_limit and #recent < limit and total <= max_tokens do
  local lo = math.max(lo_limit, hi - 63)
  local ids = redis.call('LRANGE', KEYS[2], lo, hi)
  local bodies = redis.call('HMGET', KEYS[3], unpack(ids))
  for j = #bodies, 1, -1 do
    local body = bodies[j]
    if body then
      table.insert(recent, body)
      if want_user and last_user == '' and string.find(body, '"role":"user"', 1, true) then
        last_user = body
      end
      total = total + tonumber(string.match(body, '"tokens":(%d+)') or '0')
      if #recent >= limit or total > max_tokens then break end
    end
  end
  hi = lo - 1
end
local stop = math.max(0, count - tonumber(ARGV[4]))
hi = count - #recent - 1
while want_user and last_user == '' and hi >= stop do
  local lo = math.max(stop, hi - 63)
  local ids = redis.call('LRANGE', KEYS[2], lo, hi)
  local bodies = redis.call('HMGET', KEYS[3], unpack(ids))
  for j = #bodies, 1, -1 do
    local body = bodies[j]
    if body and string.find(body, '"role":"user"', 1, true) then
      last_user = body
      break
    end
  end
  hi = lo - 1
end
return {meta, count, pending, epoch, state, summary, recent, last_user}
"""

LAST_USER_SCAN = 4096  # turns the head script looks back for the last user turn; past that,
# the store pages back on its own (a session of thousands of non-user turns is rare)

# KEYS: log, msgs. ARGV: start, stop (LRANGE semantics).
# Lua's unpack() takes at most ~8,000 values: bodies are fetched in pieces.
_BODIES = """
local function bodies(ids)
  local out = {}
  for i = 1, #ids, 1000 do
    local part = redis.call('HMGET', KEYS[2], unpack(ids, i, math.min(i + 999, #ids)))
    for j = 1, #part do out[#out + 1] = part[j] end
  end
  return out
end
"""

_RANGE = (
    _BODIES
    + """
local ids = redis.call('LRANGE', KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]))
return bodies(ids)
"""
)

# KEYS: log, msgs. ARGV: (start, stop) pairs. Ids and bodies of several log ranges, one round trip.
_RANGES = (
    _BODIES
    + """
local ids = {}
for i = 1, #ARGV, 2 do
  for _, id in ipairs(redis.call('LRANGE', KEYS[1], tonumber(ARGV[i]), tonumber(ARGV[i + 1]))) do
    table.insert(ids, id)
  end
end
return {ids, bodies(ids)}
"""
)

# KEYS: meta, pending, epoch, msgs. ARGV: epoch, n, then n ids, then the ids that open a topic
# segment. Returns 0 when the session was deleted since. The segment flag is put in front of
# the body ("seg" never shadows the "seq"/"tokens" fields the other scripts match).
_MARK_INDEXED = """
local epoch = tonumber(redis.call('GET', KEYS[3]) or '0')
if epoch ~= tonumber(ARGV[1]) then return 0 end
local n = tonumber(ARGV[2])
local removed = 0
for i = 3, 2 + n do removed = removed + redis.call('SREM', KEYS[2], ARGV[i]) end
if removed > 0 then redis.call('HINCRBY', KEYS[1], 'indexed', removed) end
for i = 3 + n, #ARGV do
  local body = redis.call('HGET', KEYS[4], ARGV[i])
  if body and string.sub(body, 1, 7) ~= '{"seg":' and body ~= '~' then
    redis.call('HSET', KEYS[4], ARGV[i], '{"seg":1,' .. string.sub(body, 2))
  end
end
return 1
"""

# KEYS: meta, epoch. ARGV: user_id, now, then (setting, value) pairs. Creates the session when
# new.
_SET_SETTINGS = """
local owner = redis.call('HGET', KEYS[1], 'user_id')
if owner and owner ~= ARGV[1] then return {-1, owner} end
if not owner then redis.call('HSET', KEYS[1], 'user_id', ARGV[1], 'created_at', ARGV[2]) end
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return {1, ''}
"""

# KEYS: meta, log, msgs, pending, epoch, summary. ARGV: epoch.
# Trimming drops a turn's body from the log, keeping its id (appends stay idempotent by id and
# seq order stays intact). The rule is enforced here, atomically: only turns inside the summary's
# covered prefix and already indexed for recall, oldest first, never past the first that is not.
_TRIM = """
if tonumber(redis.call('GET', KEYS[5]) or '0') ~= tonumber(ARGV[1]) then return 0 end
if redis.call('HGET', KEYS[1], 'fidelity') == 'full' then return 0 end
local summary = redis.call('GET', KEYS[6])
if not summary then return 0 end
local last = tonumber(cjson.decode(summary).last_seq)
local seq = tonumber(redis.call('HGET', KEYS[1], 'trimmed') or '0')
local done = 0
while seq <= last do
  local id = redis.call('LINDEX', KEYS[2], seq)
  if not id or redis.call('SISMEMBER', KEYS[4], id) == 1 then break end
  redis.call('HSET', KEYS[3], id, '~')
  seq = seq + 1
  done = done + 1
end
if done > 0 then redis.call('HINCRBY', KEYS[1], 'trimmed', done) end
return done
"""

# KEYS: meta, msgs, pending. ARGV: message id. The body becomes the tombstone of a trimmed turn
# (readers skip it; an append of the same id stays a duplicate); its tokens leave the count.
_DELETE_MESSAGE = """
local body = redis.call('HGET', KEYS[2], ARGV[1])
if not body then return -1 end
if body == '~' then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], '~')
redis.call('SREM', KEYS[3], ARGV[1])
redis.call('HINCRBY', KEYS[1], 'deleted', 1)
local tokens = tonumber(string.match(body, '"tokens":(%d+)') or '0')
redis.call('HINCRBY', KEYS[1], 'tokens', -tokens)
return 1
"""

TRIMMED = b"~"  # the body of a trimmed turn: its id stays, its content lives on in the summary
# and in its recall vector

_SESSION_PARTS = (
    "meta",
    "log",
    "msgs",
    "pending",
    "state",
    "summary",
    "state_meta",  # working memory's version and history (RedisWorkingMemory)
    "state_versions",
    "facts_seen",  # the fact each key last showed the session (RedisSeenFacts)
)


class RedisSessionStore:
    """Implements SessionStore on Redis (Valkey): log list of ids, bodies hash, pending set."""

    def __init__(self, client: redis.Redis) -> None:
        self._r = client
        self._append = client.register_script(_APPEND)
        self._range = client.register_script(_RANGE)
        self._ranges = client.register_script(_RANGES)
        self._mark = client.register_script(_MARK_INDEXED)
        self._settings = client.register_script(_SET_SETTINGS)
        self._trim = client.register_script(_TRIM)
        self._head = client.register_script(_HEAD)
        self._delete_message = client.register_script(_DELETE_MESSAGE)

    def _keys(self, tenant: str, session_id: str, *parts: str) -> list[str]:
        return [Keys.session(tenant, session_id, p) for p in parts]

    def append(
        self,
        tenant: str,
        session_id: str,
        user_id: str,
        messages: Sequence[tuple[NewMessage, str, datetime, int]],
        encoding: str = "",
    ) -> AppendResult:
        """Append (message, id, created_at, tokens); `encoding` is what tokens were counted with
        ("" = unknown: never reused as exact)."""
        args: list[Any] = [user_id, datetime.now(UTC).isoformat()]
        for new, message_id, created_at, tokens in messages:
            body = _encode(new, message_id, user_id, created_at, tokens, encoding)
            args += [message_id, body, tokens]
        keys = self._keys(tenant, session_id, "meta", "log", "msgs", "pending", "epoch")
        with redis_errors():
            # Before the append: a full Valkey (OOM) refuses here, not after a stored append.
            self._touch(tenant, session_id, user_id)
            out = self._append(keys=keys, args=args)
        if out[0] == -1:
            raise Conflict(
                f"session {session_id!r} belongs to another user",
                field="user_id",
                owner=out[1].decode(),
            )
        ids = [m[1] for m in messages]
        flags = out[3:]
        new_ids = [i for i, f in zip(ids, flags, strict=True) if f == 1]
        return AppendResult(
            session_id=session_id,
            appended=len(new_ids),
            duplicates=len(ids) - len(new_ids),
            message_ids=ids,
            new_ids=new_ids,
            epoch=int(out[0]),
            messages=int(out[1]),
            tokens=int(out[2]),
        )

    def info(self, tenant: str, session_id: str) -> SessionInfo | None:
        meta_k, log_k, pending_k, epoch_k = self._keys(
            tenant, session_id, "meta", "log", "pending", "epoch"
        )
        with redis_errors():
            pipe = self._r.pipeline(transaction=False)
            pipe.hgetall(meta_k)
            pipe.llen(log_k)
            pipe.scard(pending_k)
            pipe.get(epoch_k)
            meta, count, pending, epoch = pipe.execute()
        return _info(tenant, session_id, meta, count, pending, epoch) if meta else None

    def head(
        self,
        tenant: str,
        session_id: str,
        history_limit: int,
        max_tokens: int,
        want_last_user: bool,
    ) -> SessionHead:
        keys = self._keys(
            tenant, session_id, "meta", "log", "msgs", "pending", "epoch", "state", "summary"
        )
        budget = min(max_tokens, 1 << 53)  # Lua numbers are doubles
        args = [history_limit, budget, int(want_last_user), LAST_USER_SCAN]
        with redis_errors():
            flat, count, pending, epoch, state, summary, bodies, last = self._head(
                keys=keys, args=args
            )
        meta = dict(zip(flat[::2], flat[1::2], strict=True))
        info = _info(tenant, session_id, meta, count, pending, epoch) if meta else None
        recent = [m for m in (_live(tenant, session_id, b) for b in bodies) if m is not None]
        last_user = _live(tenant, session_id, last) if last else None
        if want_last_user and last_user is None and int(count) > LAST_USER_SCAN:
            last_user = self.last_user_message(tenant, session_id)
        return SessionHead(
            info=info,
            summary=decode_summary(summary or None),
            state=None if not state else dict(json.loads(state)),
            recent=recent,
            last_user=last_user,
        )

    def messages(self, tenant: str, session_id: str, start: int, stop: int) -> list[Message]:
        keys = self._keys(tenant, session_id, "log", "msgs")
        with redis_errors():
            bodies = self._range(keys=keys, args=[start, stop])
        return [m for m in (_live(tenant, session_id, b) for b in bodies) if m is not None]

    def ids(self, tenant: str, session_id: str, start: int, stop: int) -> list[str]:
        """Message ids by log position (LRANGE semantics), trimmed turns included."""
        with redis_errors():
            found = self._r.lrange(Keys.session(tenant, session_id, "log"), start, stop)
        return [text(i) for i in found]

    def around(
        self, tenant: str, session_id: str, seqs: Sequence[int], radius: int
    ) -> list[tuple[str, Message | None]]:
        """The turns within `radius` of each seq, in one round trip: (id, turn), the turn None
        when trimmed from the log. Each id once, in log order."""
        if not seqs or radius <= 0:
            return []
        # Overlapping or touching windows merged: each position is read once.
        args: list[int] = []
        for seq in sorted(set(seqs)):
            start, stop = max(0, seq - radius), seq + radius
            if args and start <= args[-1] + 1:
                args[-1] = max(args[-1], stop)
            else:
                args += [start, stop]
        with redis_errors():
            ids, bodies = self._ranges(
                keys=self._keys(tenant, session_id, "log", "msgs"), args=args
            )
        # Disjoint windows in ascending order: each id once, in log order.
        return [(text(i), _live(tenant, session_id, b)) for i, b in zip(ids, bodies, strict=True)]

    def by_ids(self, tenant: str, session_id: str, ids: Sequence[str]) -> list[Message | None]:
        if not ids:
            return []
        with redis_errors():
            bodies: list[bytes | None] = self._r.hmget(  # type: ignore[assignment]
                Keys.session(tenant, session_id, "msgs"), list(ids)
            )
        return [_live(tenant, session_id, b) for b in bodies]

    def last_user_message(self, tenant: str, session_id: str) -> Message | None:
        # Scan back in pages; the last user turn is almost always within the first page.
        page = 32
        for start in range(0, 1 << 30, page):
            batch = self.messages(tenant, session_id, -(start + page), -(start + 1))
            if not batch:
                return None
            for message in reversed(batch):
                if message.role == "user":
                    return message
            if len(batch) < page:
                return None
        return None

    def mark_indexed(
        self,
        tenant: str,
        session_id: str,
        epoch: int,
        ids: Sequence[str],
        segment_starts: Sequence[str] = (),
    ) -> bool:
        keys = self._keys(tenant, session_id, "meta", "pending", "epoch", "msgs")
        with redis_errors():
            return bool(self._mark(keys=keys, args=[epoch, len(ids), *ids, *segment_starts]))

    def set_settings(
        self, tenant: str, session_id: str, user_id: str, values: dict[str, str]
    ) -> None:
        """Set the session's own settings; creates the session (owned by user_id) when new."""
        keys = self._keys(tenant, session_id, "meta", "epoch")
        args = [user_id, datetime.now(UTC).isoformat()]
        for name, value in values.items():
            args += [name, value]
        with redis_errors():
            out = self._settings(keys=keys, args=args)
            if out[0] != -1:
                self._touch(tenant, session_id, user_id)
        if out[0] == -1:
            raise Conflict(
                f"session {session_id!r} belongs to another user",
                field="user_id",
                owner=out[1].decode(),
            )

    def trim(self, tenant: str, session_id: str, epoch: int) -> int:
        """Drop the bodies of turns both summarized and indexed; returns how many."""
        keys = self._keys(tenant, session_id, "meta", "log", "msgs", "pending", "epoch", "summary")
        with redis_errors():
            return int(self._trim(keys=keys, args=[epoch]))

    def pending_ids(self, tenant: str, session_id: str) -> set[str]:
        """Ids of the session's turns not yet indexed for recall."""
        with redis_errors():
            members = self._r.smembers(Keys.session(tenant, session_id, "pending"))
        return {text(m) for m in members}

    def epoch(self, tenant: str, session_id: str) -> int:
        with redis_errors():
            value = self._r.get(Keys.session(tenant, session_id, "epoch"))
        return int(value or 0)

    def delete(self, tenant: str, session_id: str) -> tuple[int, bool]:
        """Tombstone and remove a session; returns (new epoch, whether anything existed)."""
        # The epoch bump is the tombstone: written first, and kept, so that an in-flight job
        # for the old epoch can tell that its session is gone.
        with redis_errors():
            owner = self._r.hget(Keys.session(tenant, session_id, "meta"), "user_id")
            pipe = self._r.pipeline(transaction=True)
            pipe.incr(Keys.session(tenant, session_id, "epoch"))
            pipe.delete(*self._keys(tenant, session_id, *_SESSION_PARTS))
            self._unindex(pipe, tenant, session_id, None if owner is None else text(owner))
            epoch, removed = pipe.execute()[:2]
        return int(epoch), int(removed) > 0

    def delete_message(self, tenant: str, session_id: str, message_id: str) -> bool | None:
        keys = self._keys(tenant, session_id, "meta", "msgs", "pending")
        with redis_errors():
            out = int(self._delete_message(keys=keys, args=[message_id]))
        return None if out < 0 else out == 1

    # The session index: one entry per session, written and removed together in one
    # transaction, read three ways: service-wide by age (session_ttl_s expiry), per tenant
    # (operators' lists, counts) and per user (the user's sessions). Outside the session's own
    # scripts: these keys are not under the session's hash tag.

    def _touch(self, tenant: str, session_id: str, user_id: str) -> None:
        now_ms = int(datetime.now(UTC).timestamp() * 1000)
        pipe = self._r.pipeline(transaction=True)
        pipe.zadd(Keys.session_activity(), {Keys.session(tenant, session_id, "meta"): now_ms})
        pipe.zadd(Keys.tenant_sessions(tenant), {session_id: now_ms})
        pipe.zadd(Keys.user_sessions(tenant, user_id), {session_id: now_ms})
        pipe.execute()

    def _unindex(self, pipe: Any, tenant: str, session_id: str, user_id: str | None) -> None:
        pipe.zrem(Keys.session_activity(), Keys.session(tenant, session_id, "meta"))
        pipe.zrem(Keys.tenant_sessions(tenant), session_id)
        if user_id is not None:
            pipe.zrem(Keys.user_sessions(tenant, user_id), session_id)

    def backfill_index(self) -> int:
        """Index the sessions an earlier release left out of a view (the per-user one is new;
        sessions only ever given state were in none): once, then a marker makes it a no-op.
        Present entries keep their time; missing ones get now (a full session_ttl_s ahead)."""
        done = Keys.migration("session-index")
        added = 0
        with redis_errors():
            if self._r.exists(done):
                return 0
            now_ms = int(datetime.now(UTC).timestamp() * 1000)
            pattern = f"{Keys.prefix}:{{t:*:s:*}}:meta"
            for key in self._r.scan_iter(match=pattern, count=1000):
                owner = self._r.hget(key, "user_id")
                if owner is None:
                    continue
                tenant, session_id = Keys.parse_session(text(key))
                seen = self._r.zscore(Keys.session_activity(), key)
                score = int(seen) if seen is not None else now_ms
                pipe = self._r.pipeline(transaction=True)
                pipe.zadd(Keys.session_activity(), {text(key): score}, nx=True)
                pipe.zadd(Keys.tenant_sessions(tenant), {session_id: score}, nx=True)
                pipe.zadd(Keys.user_sessions(tenant, text(owner)), {session_id: score}, nx=True)
                added += sum(pipe.execute())
            self._r.set(done, now_ms)
        return added

    def touch(self, tenant: str, session_id: str, user_id: str) -> None:
        with redis_errors():
            self._touch(tenant, session_id, user_id)

    def recent(
        self, tenant: str, offset: int, limit: int, user_id: str | None = None
    ) -> tuple[list[tuple[str, int]], int]:
        key = (
            Keys.tenant_sessions(tenant) if user_id is None else Keys.user_sessions(tenant, user_id)
        )
        with redis_errors():
            pipe = self._r.pipeline(transaction=False)
            pipe.zcard(key)
            if limit > 0:  # (a stop of -1 would read the whole set)
                pipe.zrevrange(key, offset, offset + limit - 1, withscores=True)
            total, *page = pipe.execute()
        return [(text(m), int(score)) for m, score in (page[0] if page else [])], int(total)

    def idle(self, before_ms: int, limit: int) -> list[tuple[str, str]]:
        """Sessions whose last write is older than `before_ms`: (tenant, session_id), oldest
        first."""
        with redis_errors():
            keys = self._r.zrangebyscore(Keys.session_activity(), "-inf", before_ms, 0, limit)
        return [Keys.parse_session(text(k)) for k in keys]

    def still_idle(self, tenant: str, session_id: str, before_ms: int) -> bool:
        with redis_errors():
            score = self._r.zscore(
                Keys.session_activity(), Keys.session(tenant, session_id, "meta")
            )
        return score is not None and score < before_ms

    def ids_for_user(self, tenant: str, user_id: str) -> list[str]:
        """The user's sessions: a SCAN of the tenant's session headers (user deletion only)."""
        found: list[str] = []
        with redis_errors():
            for key in self._r.scan_iter(match=Keys.session_pattern(tenant, "meta"), count=1000):
                owner = self._r.hget(key, "user_id")
                if owner is not None and text(owner) == user_id:
                    found.append(Keys.parse_session(text(key))[1])
        return sorted(found)

    def pending(self) -> Iterator[tuple[str, str, int, list[str]]]:
        """Every session with turns not yet indexed: (tenant, session_id, epoch, ids)."""
        with redis_errors():
            for key in self._r.scan_iter(match=f"{Keys.prefix}:{{t:*:s:*}}:pending", count=1000):
                tenant, session_id = Keys.parse_session(key.decode())
                ids = [text(i) for i in self._r.smembers(key)]
                if ids:
                    yield tenant, session_id, self.epoch(tenant, session_id), ids

    def ping(self) -> None:
        with redis_errors():
            self._r.ping()


def _encode(
    new: NewMessage,
    message_id: str,
    user_id: str,
    created_at: datetime,
    tokens: int,
    encoding: str,
) -> str:
    # seq is filled in by the append script ("seq":-1 is replaced in place).
    # Field order matters: the Lua scripts match "seq" and "tokens" by their first occurrence,
    # so both come before any client-supplied text.
    body: dict[str, Any] = {
        "id": message_id,
        "seq": -1,
        "tokens": tokens,
        "enc": encoding,
        "user_id": user_id,
        "role": new.role,
        "content": new.content,
        "created_at": created_at.isoformat(),
    }
    if new.name:
        body["name"] = new.name
    if new.tool_calls:
        body["tool_calls"] = new.tool_calls
    if new.tool_call_id:
        body["tool_call_id"] = new.tool_call_id
    if new.metadata:
        body["metadata"] = new.metadata
    if new.content_null:
        body["null"] = 1
    if new.content_parts is not None:
        body["parts"] = new.content_parts
    # orjson writes compact UTF-8 JSON: `"seq":-1` and `"tokens":N` with no spaces (the scripts
    # rely on that).
    return orjson.dumps(body).decode()


def _info(
    tenant: str, session_id: str, meta: dict[bytes, bytes], count: int, pending: int, epoch: Any
) -> SessionInfo:
    return SessionInfo(
        tenant=tenant,
        session_id=session_id,
        user_id=meta[b"user_id"].decode(),
        message_count=int(count),
        tokens=int(meta.get(b"tokens", 0)),
        indexed=int(meta.get(b"indexed", 0)),
        pending=int(pending),
        epoch=int(epoch or 0),
        fidelity=text(meta[b"fidelity"]) if b"fidelity" in meta else None,
        extract_facts=meta[b"extract_facts"] == b"1" if b"extract_facts" in meta else None,
        trimmed=int(meta.get(b"trimmed", 0)),
        deleted=int(meta.get(b"deleted", 0)),
    )


def _live(tenant: str, session_id: str, raw: bytes | None) -> Message | None:
    """The turn in a stored body; None for a missing one or a trimmed one's tombstone."""
    if raw is None or raw == TRIMMED:
        return None
    if len(raw) <= DECODED_MAX_BYTES:
        return _decoded(tenant, session_id, raw)
    return _decode(tenant, session_id, raw)


# Every context reads the session's recent turns again (~60 bodies, ~5 us each to decode): the
# same bytes give the same (frozen) turn, so the last few thousand small ones are kept decoded.
DECODED_MAX_BYTES = 4096


def _decode(tenant: str, session_id: str, raw: bytes) -> Message:
    d = orjson.loads(raw)
    return Message(
        tenant=tenant,
        session_id=session_id,
        user_id=d["user_id"],
        id=d["id"],
        seq=d["seq"],
        role=d["role"],
        content=d["content"],
        created_at=datetime.fromisoformat(d["created_at"]),
        tokens=d["tokens"],
        tokens_encoding=d.get("enc", ""),
        name=d.get("name"),
        tool_calls=d.get("tool_calls"),
        tool_call_id=d.get("tool_call_id"),
        metadata=d.get("metadata", {}),
        segment_start=bool(d.get("seg")),
        content_null=bool(d.get("null")),
        content_parts=d.get("parts"),
    )


_decoded = lru_cache(maxsize=4096)(_decode)
