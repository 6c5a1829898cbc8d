"""Redis connections, key families and error translation shared by the Redis adapters."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import redis
import redis.exceptions

from service.domain.errors import InsufficientStorage, StoreUnavailable


def text(value: object) -> str:
    """A Redis reply as str (the clients return raw bytes)."""
    assert isinstance(value, bytes), type(value)
    return value.decode()


def connect(url: str) -> redis.Redis:
    """A pooled, thread-safe client; raw bytes (JSON and vectors are decoded by the adapters)."""
    client: redis.Redis = redis.Redis.from_url(
        url, socket_timeout=5, socket_connect_timeout=2, health_check_interval=30
    )
    return client


@contextmanager
def redis_errors() -> Iterator[None]:
    """Translate the client's connection failures into the domain's StoreUnavailable."""
    try:
        yield
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        # No address in the message: it reaches HTTP callers (the log gets the cause).
        how = "timed out" if isinstance(exc, redis.exceptions.TimeoutError) else "no connection"
        raise StoreUnavailable("redis", f"Redis is unavailable ({how})") from exc
    except redis.exceptions.OutOfMemoryError as exc:  # maxmemory reached, noeviction
        raise InsufficientStorage(
            "Redis refuses writes: it is out of memory (maxmemory); nothing was written",
            store="redis",
        ) from exc
    except redis.exceptions.ResponseError as exc:
        if str(exc).startswith("MISCONF"):  # Valkey cannot write its AOF (disk full)
            raise InsufficientStorage(
                "Redis refuses writes: it cannot persist them (disk full?); nothing was written",
                store="redis",
            ) from exc
        raise


def segment(value: str) -> str:
    """One id as a key segment. Ids may contain ':' (our separator) but never '%', so this
    escaping is injective: ("acme", "x:s:y") and ("acme:s:x", "y") get different keys."""
    return value.replace(":", "%3A")


def unsegment(value: str) -> str:
    return value.replace("%3A", ":")


def glob_escape(value: str) -> str:
    """A key segment inside a SCAN pattern: its glob characters match only themselves."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in value)


class Keys:
    """One function per key family; every key carries the tenant in its hash tag.

    Every id is escaped with `segment`, so no id can reach into another id's keys.
    """

    prefix = "cmem"

    @classmethod
    def session(cls, tenant: str, session_id: str, part: str) -> str:
        # One hash tag per session keeps a session's keys in one cluster slot (Lua needs that).
        return f"{cls.prefix}:{{t:{segment(tenant)}:s:{segment(session_id)}}}:{part}"

    @classmethod
    def session_pattern(cls, tenant: str, part: str) -> str:
        """A SCAN pattern for one part of every session of a tenant."""
        return f"{cls.prefix}:{{t:{glob_escape(segment(tenant))}:s:*}}:{part}"

    @classmethod
    def parse_fact(cls, key: str) -> tuple[str, str]:
        """(tenant, fact_id) of a key made by `fact`."""
        head, fact_id = key.split("}:fact:", 1)
        return unsegment(head.split("{t:", 1)[1]), unsegment(fact_id)

    @classmethod
    def is_fact(cls, key: str) -> bool:
        """Whether a key `all_facts_pattern` matched is a fact record (a session's hash tag holds
        ":s:", a tenant's holds no ':' after "t:": `segment` escapes them)."""
        tag, sep, rest = key.removeprefix(f"{cls.prefix}:{{t:").partition("}:fact:")
        return bool(sep) and ":" not in tag and ":" not in rest

    @classmethod
    def retired_facts(cls) -> str:
        """A sorted set: fact record key -> when it was superseded or deleted (ms)."""
        return f"{cls.prefix}:sys:facts:retired"

    @classmethod
    def fact_pattern(cls, tenant: str) -> str:
        """A SCAN pattern for every fact record of a tenant (history included)."""
        return f"{glob_escape(cls._tenant(tenant))}:fact:*"

    @classmethod
    def all_facts_pattern(cls) -> str:
        """A SCAN pattern for every tenant's fact records (`parse_fact` tells session keys out)."""
        return f"{cls.prefix}:{{t:*}}:fact:*"

    @classmethod
    def fact_counts(cls, tenant: str) -> str:
        """A hash: fact status -> the tenant's records in it, kept by the facts scripts."""
        return f"{cls._tenant(tenant)}:facts:counts"

    @classmethod
    def fact_slot_pattern(cls, tenant: str, user_id: str) -> str:
        return f"{glob_escape(cls.fact_slot(tenant, user_id, ''))}*"

    @classmethod
    def parse_session(cls, key: str) -> tuple[str, str]:
        """(tenant, session_id) of a key made by `session`."""
        tag = key.split("{", 1)[1].rsplit("}", 1)[0]
        _, tenant, _, session_id = tag.split(":")
        return unsegment(tenant), unsegment(session_id)

    @classmethod
    def _tenant(cls, tenant: str) -> str:
        return f"{cls.prefix}:{{t:{segment(tenant)}}}"

    @classmethod
    def fact(cls, tenant: str, fact_id: str) -> str:
        return f"{cls._tenant(tenant)}:fact:{segment(fact_id)}"

    @classmethod
    def user_facts(cls, tenant: str, user_id: str) -> str:
        return f"{cls._tenant(tenant)}:user:{segment(user_id)}:facts"

    @classmethod
    def fact_lineage(cls, tenant: str, source_id: str) -> str:
        """The facts derived from one message or chunk (for idempotent extraction, cascades)."""
        return f"{cls._tenant(tenant)}:derived:{segment(source_id)}"

    @classmethod
    def fact_slot(cls, tenant: str, user_id: str, key: str) -> str:
        return f"{cls._tenant(tenant)}:user:{segment(user_id)}:slot:{segment(key)}"

    @classmethod
    def snapshot(cls, tenant: str, snapshot_id: str) -> str:
        return f"{cls._tenant(tenant)}:snapshot:{segment(snapshot_id)}"

    @classmethod
    def session_snapshots(cls, tenant: str, session_id: str) -> str:
        """A sorted set: snapshot id -> expiry (ms)."""
        return f"{cls._tenant(tenant)}:session:{segment(session_id)}:snapshots:z"

    @classmethod
    def session_snapshots_set(cls, tenant: str, session_id: str) -> str:
        """The plain set that indexed snapshots before the sorted set (it expires with its
        snapshots; deletion still reads it)."""
        return f"{cls._tenant(tenant)}:session:{segment(session_id)}:snapshots"

    @classmethod
    def snapshot_blob(cls, tenant: str, session_id: str, digest: str) -> str:
        return f"{cls._tenant(tenant)}:session:{segment(session_id)}:blob:{digest}"

    @classmethod
    def session_snapshot_blobs(cls, tenant: str, session_id: str) -> str:
        """The set of blob digests the session's snapshots refer to (deleted with them)."""
        return f"{cls._tenant(tenant)}:session:{segment(session_id)}:blobs"

    @classmethod
    def embedding(cls, tenant: str, model: str, content_hash: str) -> str:
        return f"{cls._tenant(tenant)}:emb:{segment(model)}:{content_hash}"

    @classmethod
    def document(cls, tenant: str, doc_id: str, part: str) -> str:
        return f"{cls._tenant(tenant)}:doc:{segment(doc_id)}:{part}"

    @classmethod
    def documents(cls, tenant: str) -> str:
        return f"{cls._tenant(tenant)}:docs"

    @classmethod
    def live_documents(cls, tenant: str) -> str:
        return f"{cls._tenant(tenant)}:docs:live"

    @classmethod
    def job(cls, tenant: str, job_id: str) -> str:
        return f"{cls._tenant(tenant)}:job:{segment(job_id)}"

    @classmethod
    def tenant_jobs(cls, tenant: str) -> str:
        """A sorted set: job id -> created (ms); the latest jobs, for operators."""
        return f"{cls._tenant(tenant)}:jobs:recent"

    @classmethod
    def job_lease(cls, tenant: str, job_id: str) -> str:
        return f"{cls._tenant(tenant)}:job:{segment(job_id)}:lease"

    @classmethod
    def open_jobs(cls) -> str:
        return f"{cls.prefix}:jobs:open"

    @classmethod
    def pending_documents(cls, tenant: str) -> str:
        return f"{cls._tenant(tenant)}:docs:pending"

    @classmethod
    def cutoffs(cls, tenant: str) -> str:
        return f"{cls._tenant(tenant)}:cutoffs"

    @classmethod
    def audit(cls, tenant: str) -> str:
        return f"{cls._tenant(tenant)}:audit"

    @classmethod
    def embedding_pattern(cls, tenant: str) -> str:
        return f"{cls._tenant(tenant)}:emb:*"

    @classmethod
    def tenant_sessions(cls, tenant: str) -> str:
        """A sorted set: session id -> its last write (ms); the session index per tenant."""
        return f"{cls._tenant(tenant)}:sessions:active"

    @classmethod
    def user_sessions(cls, tenant: str, user_id: str) -> str:
        """A sorted set: session id -> its last write (ms); the session index per user."""
        return f"{cls._tenant(tenant)}:user:{segment(user_id)}:sessions"

    @classmethod
    def fact_client_ids(cls, tenant: str) -> str:
        """A hash: a client's own memory id -> our fact id (unique per tenant)."""
        return f"{cls._tenant(tenant)}:facts:client-ids"

    @classmethod
    def tenant_users(cls, tenant: str) -> str:
        """A HyperLogLog of the tenant's users (those with a session)."""
        return f"{cls._tenant(tenant)}:users:hll"

    @classmethod
    def usage(cls, part: str) -> str:
        """Service-wide usage counters (sizes, activity, lag); never per tenant."""
        return f"{cls.prefix}:sys:usage:{part}"

    @classmethod
    def vector_counts(cls) -> str:
        """A hash: vector points per kind, stale chunks, when they were counted (every tenant)."""
        return f"{cls.prefix}:sys:vectors:counts"

    @classmethod
    def quota(cls, tenant: str) -> str:
        """A hash: quota name -> the tenant's usage counted against it (see RedisQuotas)."""
        return f"{cls._tenant(tenant)}:quota"

    @classmethod
    def rate_limit(cls, tenant: str, bucket: str) -> str:
        return f"{cls._tenant(tenant)}:ratelimit:{segment(bucket)}"

    @classmethod
    def session_activity(cls) -> str:
        """A sorted set: every session's meta key -> its last write (ms): the session index
        service-wide, for session_ttl_s (see RedisSessionStore)."""
        return f"{cls.prefix}:sys:sessions:activity"

    @classmethod
    def migration(cls, name: str) -> str:
        """Set once a one-off data migration has run (its value: when, in ms)."""
        return f"{cls.prefix}:sys:migrations:{name}"

    @classmethod
    def fsync_probe(cls) -> str:
        """Written before WAITAOF (strict durability): holds a counter, nothing else."""
        return f"{cls.prefix}:sys:fsync-probe"

    @classmethod
    def worker_heartbeat(cls) -> str:
        return f"{cls.prefix}:sys:worker-heartbeat"
