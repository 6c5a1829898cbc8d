"""RedisDocumentStore: document records, source texts per version, and the live-version map.

The live-version map (one hash per tenant: doc_id -> {"v", "s", "exp"}) is what readers check
every chunk hit against, in one round trip. Switching a document's live version is a
compare-and-set on its sequence, so a slow job for an older write can never win, and a deletion
tombstone (the sequence it was deleted at) outranks every older write.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import orjson
import redis

from service.adapters.redis_client import Keys, redis_errors, text
from service.domain.documents import Document, DocumentVersion, LiveVersion

# KEYS: live map, record, tombstone, pending map, sources. ARGV: doc_id, version, sequence,
# expires_at, now.
# Returns the previous live version ("" if none), or false if this write lost. Version "" is the
# "nothing live" marker an `invalidate` write sets at its own sequence: only that write's own
# version may replace it (same sequence), older writes never.
_SWITCH = """
local seq = tonumber(ARGV[3])
local tomb = tonumber(redis.call('GET', KEYS[3]) or '-1')
if tomb >= seq then return false end
local current = redis.call('HGET', KEYS[1], ARGV[1])
local previous = ''
if current then
  local live = cjson.decode(current)
  local s = tonumber(live.s)
  if s > seq or (s == seq and live.v ~= '') then return false end
  previous = live.v
end
redis.call('HSET', KEYS[1], ARGV[1],
  cjson.encode({v = ARGV[2], s = seq, exp = tonumber(ARGV[4])}))
local pending = redis.call('HGET', KEYS[4], ARGV[1])
if pending and tonumber(cjson.decode(pending).s) <= seq then
  redis.call('HDEL', KEYS[4], ARGV[1])
end
local body = redis.call('GET', KEYS[2])
if body then
  local doc = cjson.decode(body)
  doc.live_version = ARGV[2]
  -- The entry that goes live: the latest write of this version at or below the sequence (a
  -- re-embed switches an existing version in under a newer sequence).
  local target = nil
  local previous_listed = false  -- the version that stops being live still has an entry
  for i, version in ipairs(doc.versions) do
    if version.version == ARGV[2] and version.sequence <= seq then target = i end
    if version.version == previous then previous_listed = true end
  end
  for i, version in ipairs(doc.versions) do
    if i == target then
      version.status = 'live'
      version.live_at = ARGV[5]
    elseif version.status == 'live' or (version.status == 'pending' and version.sequence < seq) then
      version.status = 'stale'
    end
  end
  redis.call('SET', KEYS[2], cjson.encode(doc))
  -- The version that stops being live keeps its source only while its history entry does.
  if previous ~= '' and previous ~= ARGV[2] and not previous_listed then
    redis.call('HDEL', KEYS[5], previous)
  end
end
return previous
"""

HISTORY = 20  # version entries kept per document (their sources with them)

# KEYS: record, sources. ARGV: version entry JSON, tags JSON, metadata JSON, doc_id, now, version,
# source text, history length, expected revision ("" = any; If-Match). Returns the new revision,
# or -1 when the record is not at the expected revision.
# The source goes in with its entry; an entry that falls out of the history takes its source
# with it unless another entry, or the live version, still refers to it.
_ADD_VERSION = """
local body = redis.call('GET', KEYS[1])
local doc
if body then doc = cjson.decode(body) else
  doc = {doc_id = ARGV[4], versions = {}, live_version = cjson.null, created_at = ARGV[5]}
end
if ARGV[9] ~= '' and (not body or tostring(doc.revision or 0) ~= ARGV[9]) then return -1 end
doc.revision = (doc.revision or 0) + 1
redis.call('HSET', KEYS[2], ARGV[6], ARGV[7])
table.insert(doc.versions, cjson.decode(ARGV[1]))
local dropped = {}
while #doc.versions > tonumber(ARGV[8]) do
  table.insert(dropped, table.remove(doc.versions, 1).version)
end
if #dropped > 0 then
  local keep = {}
  for _, version in ipairs(doc.versions) do keep[version.version] = true end
  if type(doc.live_version) == 'string' then keep[doc.live_version] = true end
  for _, version in ipairs(dropped) do
    if not keep[version] then redis.call('HDEL', KEYS[2], version) end
  end
end
doc.tags = cjson.decode(ARGV[2])
doc.metadata = cjson.decode(ARGV[3])
doc.updated_at = ARGV[5]
redis.call('SET', KEYS[1], cjson.encode(doc))
return doc.revision
"""

# KEYS: record. ARGV: tags JSON, metadata JSON, now, expected revision ("" = any). Returns the
# new revision; -1: not at the expected revision; 0: no such document.
_SET_LABELS = """
local body = redis.call('GET', KEYS[1])
if not body then return 0 end
local doc = cjson.decode(body)
if ARGV[4] ~= '' and tostring(doc.revision or 0) ~= ARGV[4] then return -1 end
doc.revision = (doc.revision or 0) + 1
doc.tags = cjson.decode(ARGV[1])
doc.metadata = cjson.decode(ARGV[2])
doc.updated_at = ARGV[3]
redis.call('SET', KEYS[1], cjson.encode(doc))
return doc.revision
"""


class RedisDocumentStore:
    """Implements DocumentStore on Redis (all of a tenant's document keys share its hash tag)."""

    def __init__(self, client: redis.Redis) -> None:
        self._r = client
        self._switch = client.register_script(_SWITCH)
        self._add_version = client.register_script(_ADD_VERSION)
        self._set_labels = client.register_script(_SET_LABELS)

    def next_sequence(self, tenant: str, doc_id: str) -> int:
        with redis_errors():
            return int(self._r.incr(Keys.document(tenant, doc_id, "seq")))

    def add_version(
        self,
        tenant: str,
        doc_id: str,
        version: DocumentVersion,
        source: str,
        tags: list[str],
        metadata: dict[str, Any],
        expected_revision: int | None = None,
    ) -> int:
        """Record a pending version and keep its source text (jobs carry ids, not text);
        returns the record's new revision, or -1 if it was not at `expected_revision`."""
        entry = json.dumps(version.to_json())
        with redis_errors():
            self._r.zadd(Keys.documents(tenant), {doc_id: 0})  # all scores 0: ordered by id
            return int(
                self._add_version(
                    keys=[
                        Keys.document(tenant, doc_id, "record"),
                        Keys.document(tenant, doc_id, "sources"),
                    ],
                    args=[
                        entry,
                        json.dumps(tags),
                        json.dumps(metadata or {}),
                        doc_id,
                        version.created_at,
                        version.version,
                        source,
                        HISTORY,
                        "" if expected_revision is None else expected_revision,
                    ],
                )
            )

    def set_labels(
        self,
        tenant: str,
        doc_id: str,
        tags: list[str],
        metadata: dict[str, Any],
        now: str,
        expected_revision: int | None = None,
    ) -> int:
        """Replace tags and metadata; the new revision, -1 (not at `expected_revision`) or 0
        (no such document)."""
        args = [json.dumps(tags), json.dumps(metadata), now]
        args.append("" if expected_revision is None else str(expected_revision))
        with redis_errors():
            return int(self._set_labels(keys=[Keys.document(tenant, doc_id, "record")], args=args))

    def source(self, tenant: str, doc_id: str, version: str) -> str | None:
        with redis_errors():
            body = self._r.hget(Keys.document(tenant, doc_id, "sources"), version)
            if body is None:  # written by an earlier release: one key per version
                body = self._r.get(_legacy_source(tenant, doc_id, version))
        return None if body is None else text(body)

    def switch_live(
        self, tenant: str, doc_id: str, version: str, sequence: int, expires_at: int, now: str
    ) -> tuple[bool, str | None]:
        """Make `version` live if `sequence` is newer than the live one and any deletion.

        Returns (switched, previous live version).
        """
        keys = [
            Keys.live_documents(tenant),
            Keys.document(tenant, doc_id, "record"),
            Keys.document(tenant, doc_id, "tombstone"),
            Keys.pending_documents(tenant),
            Keys.document(tenant, doc_id, "sources"),
        ]
        with redis_errors():
            result = self._switch(keys=keys, args=[doc_id, version, sequence, expires_at, now])
        if result is None:
            return False, None
        previous = text(result)
        return True, previous or None

    def mark_pending(self, tenant: str, doc_id: str, sequence: int, since: float) -> None:
        """A write that serves later (write-behind): readers report the live version's age."""
        body = orjson.dumps({"s": sequence, "t": since})
        with redis_errors():
            self._r.hset(Keys.pending_documents(tenant), doc_id, body)

    def live(self, tenant: str, doc_ids: Sequence[str]) -> dict[str, LiveVersion]:
        """The live version of each document that has one, in one round trip."""
        if not doc_ids:
            return {}
        unique = list(dict.fromkeys(doc_ids))
        with redis_errors():
            pipe = self._r.pipeline(transaction=False)
            pipe.hmget(Keys.live_documents(tenant), unique)
            pipe.hmget(Keys.pending_documents(tenant), unique)
            raw, pending = pipe.execute()
        out: dict[str, LiveVersion] = {}
        for doc_id, body, waiting in zip(unique, raw, pending, strict=True):
            if body is not None:
                d = orjson.loads(body)
                since = None
                if waiting is not None:
                    w = orjson.loads(waiting)
                    since = float(w["t"]) if int(w["s"]) > int(d["s"]) else None
                out[doc_id] = LiveVersion(str(d["v"]), int(d["s"]), int(d.get("exp") or 0), since)
        return out

    def ids(self, tenant: str, after: str, limit: int) -> list[str]:
        """Document ids in id order, strictly after `after` ("" = from the start)."""
        start = f"({after}" if after else "-"
        with redis_errors():
            found = self._r.zrangebylex(Keys.documents(tenant), start, "+", 0, limit)
        return [text(i) for i in found]

    def count(self, tenant: str) -> int:
        with redis_errors():
            return int(self._r.zcard(Keys.documents(tenant)))

    def get(self, tenant: str, doc_id: str) -> Document | None:
        with redis_errors():
            body = self._r.get(Keys.document(tenant, doc_id, "record"))
        return None if body is None else Document.from_json(orjson.loads(body))

    def list(self, tenant: str, offset: int, limit: int) -> list[Document]:
        with redis_errors():
            ids = self._r.zrange(Keys.documents(tenant), offset, offset + limit - 1)
            bodies: list[bytes | None] = self._r.mget(  # type: ignore[assignment]
                [Keys.document(tenant, text(i), "record") for i in ids]
            )
        return [Document.from_json(orjson.loads(b)) for b in bodies if b is not None]

    def delete(self, tenant: str, doc_id: str) -> int:
        """Tombstone first: the deletion takes a sequence that outranks every earlier write."""
        record = self.get(tenant, doc_id)
        versions = [v.version for v in record.versions] if record else []
        with redis_errors():
            sequence = int(self._r.incr(Keys.document(tenant, doc_id, "seq")))
            pipe = self._r.pipeline(transaction=True)
            pipe.delete(Keys.document(tenant, doc_id, "sources"))
            for version in versions:
                pipe.delete(_legacy_source(tenant, doc_id, version))
            pipe.set(Keys.document(tenant, doc_id, "tombstone"), sequence)
            pipe.hdel(Keys.live_documents(tenant), doc_id)
            pipe.hdel(Keys.pending_documents(tenant), doc_id)
            pipe.zrem(Keys.documents(tenant), doc_id)
            pipe.delete(Keys.document(tenant, doc_id, "record"))
            pipe.execute()
        return sequence


def _legacy_source(tenant: str, doc_id: str, version: str) -> str:
    """Where releases before the sources hash kept a version's text."""
    return Keys.document(tenant, doc_id, f"source:{version}")
