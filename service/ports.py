"""The ports the use cases talk to; each adapter implements one of them with one technology."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from service.domain.documents import Document, DocumentVersion, LiveVersion
from service.domain.extraction import ExtractedFact
from service.domain.models import (
    ApiKey,
    AppendResult,
    Fact,
    Message,
    NewMessage,
    Principal,
    SessionHead,
    SessionInfo,
    StateVersion,
    VectorFilter,
    VectorHit,
    VectorPoint,
    VectorQuery,
)
from service.domain.summaries import Summary
from service.domain.usage import UsageSnapshot, VectorCounts


class VectorIndex(Protocol):
    """A vector collection: dense and hybrid (dense + sparse, rank-fused) search with filters."""

    def ensure_collection(self) -> None: ...
    def check_writable(self) -> None:
        """Raise InsufficientStorage/StoreUnavailable when a write could not be taken now."""
        ...

    def upsert(self, points: Sequence[VectorPoint]) -> None: ...
    def set_payload(self, ids: Sequence[str], payload: dict[str, Any]) -> None: ...
    def set_payload_where(self, where: VectorFilter, payload: dict[str, Any]) -> None:
        """Set payload fields on every point matching `where` (none matching is fine)."""
        ...

    def delete_ids(self, ids: Sequence[str]) -> None: ...
    def delete(self, where: VectorFilter) -> None: ...
    def query_batch(self, queries: Sequence[VectorQuery]) -> list[list[VectorHit]]:
        """Several searches, each with its own vector, in one call to the store."""
        ...

    def scroll(
        self, where: VectorFilter, limit: int, offset: str | None = None
    ) -> tuple[list[VectorHit], str | None]: ...
    def retrieve(self, ids: Sequence[str]) -> list[VectorHit]:
        """The points with these ids that exist (with payloads, score 0), in no set order."""
        ...

    def count(self, where: VectorFilter) -> int: ...
    def disk_bytes(self) -> int | None:
        """Bytes the collection takes on this machine's disk; None when it lives elsewhere."""
        ...

    def ping(self) -> None: ...
    def close(self) -> None: ...


class SessionStore(Protocol):
    """Sessions as append-only logs, with working memory and indexing bookkeeping."""

    def append(
        self,
        tenant: str,
        session_id: str,
        user_id: str,
        messages: Sequence[tuple[NewMessage, str, datetime, int]],
        encoding: str = "",
    ) -> AppendResult: ...
    def info(self, tenant: str, session_id: str) -> SessionInfo | None: ...
    def head(
        self,
        tenant: str,
        session_id: str,
        history_limit: int,
        max_tokens: int,
        want_last_user: bool,
    ) -> SessionHead:
        """The session's head in one round trip (`info` None: no turns yet). `history_limit`:
        at most that many turns after the summary (0 = no limit); they stop once their stored
        counts pass `max_tokens`. `state`: the working memory as last written
        (`WorkingMemoryStore` writes it)."""
        ...

    def messages(self, tenant: str, session_id: str, start: int, stop: int) -> list[Message]: ...
    def by_ids(self, tenant: str, session_id: str, ids: Sequence[str]) -> list[Message | None]: ...
    def last_user_message(self, tenant: str, session_id: str) -> Message | None: ...
    def ids(self, tenant: str, session_id: str, start: int, stop: int) -> list[str]: ...
    def around(
        self, tenant: str, session_id: str, seqs: Sequence[int], radius: int
    ) -> list[tuple[str, Message | None]]:
        """The turns within `radius` of each seq: (id, turn or None when trimmed)."""
        ...

    def mark_indexed(
        self,
        tenant: str,
        session_id: str,
        epoch: int,
        ids: Sequence[str],
        segment_starts: Sequence[str] = (),
    ) -> bool:
        """Mark turns indexed (flagging those that open a topic segment); False if deleted."""
        ...

    def set_settings(
        self, tenant: str, session_id: str, user_id: str, values: dict[str, str]
    ) -> None:
        """Set a session's own settings (fidelity, extract_facts); creates it when new."""
        ...

    def trim(self, tenant: str, session_id: str, epoch: int) -> int:
        """Drop the bodies of turns that are both summarized and indexed (never others)."""
        ...

    def pending_ids(self, tenant: str, session_id: str) -> set[str]: ...
    def delete(self, tenant: str, session_id: str) -> tuple[int, bool]: ...
    def delete_message(self, tenant: str, session_id: str, message_id: str) -> bool | None:
        """Drop a turn's body (its id stays: appends stay idempotent, deletes win); None: no
        such turn, False: its body had already left the log (trimmed or deleted)."""
        ...

    def pending(self) -> Iterator[tuple[str, str, int, list[str]]]: ...

    def ids_for_user(self, tenant: str, user_id: str) -> list[str]: ...
    def backfill_index(self) -> int:
        """Index sessions an earlier release left out of the session index (once); returns
        how many entries were added."""
        ...

    def touch(self, tenant: str, session_id: str, user_id: str) -> None:
        """Record a write to the user's session in the session index (appends and settings
        record their own)."""
        ...

    def recent(
        self, tenant: str, offset: int, limit: int, user_id: str | None = None
    ) -> tuple[list[tuple[str, int]], int]:
        """The tenant's (or one user's) sessions, latest write first: ([(session_id, last
        write ms)], total)."""
        ...

    def idle(self, before_ms: int, limit: int) -> list[tuple[str, str]]:
        """(tenant, session_id) of sessions last written before `before_ms`, oldest first."""
        ...

    def still_idle(self, tenant: str, session_id: str, before_ms: int) -> bool: ...
    def ping(self) -> None: ...


class WorkingMemoryStore(Protocol):
    """A session's working memory with versions (ETag, history, restore)."""

    def put(
        self,
        tenant: str,
        session_id: str,
        state: dict[str, Any],
        user_id: str | None,
        expected_version: int | None,
        keep: int,
    ) -> int:
        """Write a new version and return it; Conflict (another user's session),
        PreconditionFailed (not at `expected_version`)."""
        ...

    def get(self, tenant: str, session_id: str) -> tuple[dict[str, Any], int]: ...
    def versions(self, tenant: str, session_id: str) -> list[StateVersion]:
        """The retained versions, newest first."""
        ...


class FactStore(Protocol):
    """Fact records (the truth the vector index is checked against)."""

    def put(
        self,
        fact: Fact,
        previous: Fact | None,
        superseded: Fact | None,
        claim_slot: bool = True,
        limit: int = 0,
    ) -> bool:
        """Store `fact`; with `claim_slot` (and a key) only while `previous` is still the slot's
        active fact at its version, replacing it by `superseded`. False: lost a race. `limit`
        (0: none): the current (active or conflict) facts the tenant may have after it; past
        it, QuotaExceeded (details: limit, used) and nothing is written."""
        ...

    def get(self, tenant: str, fact_id: str) -> Fact | None: ...
    def derived_from(self, tenant: str, source_id: str) -> list[str]:
        """Ids of the facts whose lineage names `source_id` (a message or chunk id)."""
        ...

    def get_many(self, tenant: str, ids: Sequence[str]) -> list[Fact | None]: ...
    def active_for_key(self, tenant: str, user_id: str, key: str) -> Fact | None:
        """The fact the key's slot points at, if active (or in an unresolved conflict)."""
        ...

    def replace(
        self, fact: Fact, expected_version: int, claim_slot: bool = False, free_slot: bool = False
    ) -> bool:
        """Compare-and-set a record on its version; `claim_slot` points its key at it,
        `free_slot` frees its key if it pointed at it."""
        ...

    def list_for_user(self, tenant: str, user_id: str, offset: int, limit: int) -> list[Fact]: ...
    def delete(self, fact: Fact, expected_version: int) -> bool: ...
    def retired(self, before_ms: int, limit: int) -> list[tuple[str, str]]:
        """(tenant, fact_id) of versions superseded or deleted before `before_ms`."""
        ...

    def redact(self, tenant: str, fact_id: str) -> bool: ...
    def purge_user(self, tenant: str, user_id: str) -> list[Fact]:
        """Remove every record of the user's facts (history included); returns them."""
        ...

    def link_client_id(self, tenant: str, client_id: str, fact_id: str) -> str:
        """Point a client's own id at a fact unless it points at one already (unique per
        tenant); returns the fact id it points at."""
        ...

    def fact_id_for_client_id(self, tenant: str, client_id: str) -> str | None: ...
    def unlink_client_id(self, tenant: str, client_id: str, fact_id: str) -> None:
        """Free a client id if it still points at `fact_id`."""
        ...

    def counts(self, tenant: str) -> dict[str, int]:
        """The tenant's fact records per status, kept by every write in the same step."""
        ...

    def recount(self) -> dict[str, tuple[dict[str, int], dict[str, int]]]:
        """Count every tenant's records per status and set the counters where they differ
        (records from before counting began); {tenant: (before, after)} of those."""
        ...


class DocumentStore(Protocol):
    """Document records, source texts per version, and the live-version map."""

    def next_sequence(self, tenant: str, doc_id: str) -> int: ...
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
        """The record's new revision, or -1 if it was not at `expected_revision` (If-Match)."""
        ...

    def set_labels(
        self,
        tenant: str,
        doc_id: str,
        tags: list[str],
        metadata: dict[str, Any],
        now: str,
        expected_revision: int | None = None,
    ) -> int:
        """Replace tags and metadata: the new revision, -1 (not at `expected_revision`), or 0
        (no such document)."""
        ...

    def source(self, tenant: str, doc_id: str, version: str) -> str | None: ...
    def switch_live(
        self, tenant: str, doc_id: str, version: str, sequence: int, expires_at: int, now: str
    ) -> tuple[bool, str | None]: ...
    def live(self, tenant: str, doc_ids: Sequence[str]) -> dict[str, LiveVersion]: ...
    def mark_pending(self, tenant: str, doc_id: str, sequence: int, since: float) -> None: ...
    def get(self, tenant: str, doc_id: str) -> Document | None: ...
    def ids(self, tenant: str, after: str, limit: int) -> list[str]:
        """Document ids in id order after `after`: a stable cursor for resumable jobs."""
        ...

    def count(self, tenant: str) -> int: ...
    def list(self, tenant: str, offset: int, limit: int) -> list[Document]: ...
    def delete(self, tenant: str, doc_id: str) -> int: ...


class JobStore(Protocol):
    """State of background jobs, for GET /v1/jobs/{id}."""

    def create(
        self,
        tenant: str,
        job_id: str,
        kind: str,
        payload: dict[str, Any],
        resumable: bool = False,
    ) -> None: ...
    def update(self, tenant: str, job_id: str, **fields: Any) -> None: ...
    def get(self, tenant: str, job_id: str) -> dict[str, Any] | None: ...
    def recent(self, tenant: str, limit: int) -> list[dict[str, Any]]:
        """The tenant's latest jobs, newest first."""
        ...

    def lease(self, tenant: str, job_id: str, owner: str, ttl_s: float) -> bool:
        """Take the job's lease, or renew it if `owner` holds it; False if another does."""
        ...

    def release(self, tenant: str, job_id: str, owner: str) -> None: ...
    def leased(self, tenant: str, job_id: str) -> bool: ...
    def close(self, tenant: str, job_id: str) -> None: ...
    def open_jobs(self) -> list[tuple[str, str]]:
        """(tenant, job_id) of every resumable job not yet finished."""
        ...


class SnapshotStore(Protocol):
    """Assembled contexts, kept for a retention period so they can be inspected and replayed."""

    def put(
        self,
        tenant: str,
        session_id: str,
        snapshot_id: str,
        body: dict[str, Any],
        ttl_s: int,
        max_bytes: int = 0,
    ) -> int | None:
        """Keep the snapshot; None when kept, else (nothing written) its size in bytes, larger
        than `max_bytes` (0: no limit)."""
        ...

    def get(self, tenant: str, snapshot_id: str) -> dict[str, Any] | None: ...
    def list_for_session(self, tenant: str, session_id: str, limit: int) -> list[str]:
        """The session's retained snapshot ids, newest first."""
        ...

    def delete_for_session(self, tenant: str, session_id: str) -> int: ...


class SummaryStore(Protocol):
    """A session's rolling summary; replaced only by compare-and-set on its version."""

    def get(self, tenant: str, session_id: str) -> Summary | None: ...
    def put(self, summary: Summary, expected_version: int, epoch: int) -> bool:
        """False if the version moved (a racing compaction won) or the session was deleted."""
        ...


class Summarizer(Protocol):
    """Folds turns into a summary text of at most `target_tokens`."""

    @property
    def name(self) -> str: ...
    def summarize(self, previous: str, turns: Sequence[Message], target_tokens: int) -> str: ...


class FactExtractor(Protocol):
    """Finds facts about the user in a batch of turns (slot-keyed, with their source turns)."""

    @property
    def name(self) -> str: ...
    def extract(self, turns: Sequence[Message]) -> list[ExtractedFact]: ...


class Cutoffs(Protocol):
    """Invalidation cutoffs: items of a user/session embedded before one are not served."""

    def set(self, tenant: str, kind: str, ident: str, at_ms: int) -> None: ...
    def forget(self, tenant: str, kind: str, ident: str) -> None: ...
    def get(self, tenant: str, kind: str, ident: str) -> int:
        """The cutoff in unix milliseconds; 0 = none."""
        ...


class SeenFacts(Protocol):
    """Per session, the fact it last saw on each fact key: what its next write to that key is
    based on when the writer names no version of its own (split-brain detection)."""

    def note(self, tenant: str, session_id: str, seen: Mapping[str, str]) -> None:
        """Record key -> fact id for facts served to (or written by) the session."""
        ...

    def last(self, tenant: str, session_id: str, key: str) -> str | None: ...


class EmbeddingCache(Protocol):
    """Content-addressed vectors: (tenant, model, sha256 of text) -> vector."""

    def get_many(
        self, tenant: str, model: str, hashes: Sequence[str]
    ) -> list[list[float] | None]: ...
    def put_many(self, tenant: str, model: str, items: dict[str, list[float]]) -> None: ...
    def clear(self, tenant: str) -> int: ...
    def delete_many(self, tenant: str, model: str, hashes: Sequence[str]) -> int: ...


class AuditLog(Protocol):
    """Who did what to whose data, for operators."""

    def record(self, tenant: str, entry: dict[str, Any]) -> None: ...
    def recent(self, tenant: str, limit: int) -> list[dict[str, Any]]: ...


class Embedder(Protocol):
    """Turns texts into unit-length dense vectors."""

    @property
    def model_name(self) -> str: ...
    @property
    def dimension(self) -> int: ...
    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


class Tokenizer(Protocol):
    """Exact token counts for a target model."""

    def encoding_for(self, model: str) -> str: ...
    def count(self, text: str, model: str) -> int: ...
    def split(self, text: str, max_tokens: int, model: str) -> list[str]: ...


class JobQueue(Protocol):
    """Background jobs by stable task name; messages carry ids, never large text."""

    def enqueue(self, task: str, kwargs: dict[str, Any]) -> str: ...
    def ping(self) -> None: ...
    def depth(self) -> int: ...


class ApiKeys(Protocol):
    """API keys and whose they are; with none configured the service runs keyless."""

    def configured(self) -> bool: ...
    def authenticate(self, key: str) -> Principal | None: ...
    def list_keys(self, tenant: str) -> list[ApiKey]:
        """The tenant's keys (never the keys themselves: their public prefix, role, date)."""
        ...

    def revoke(self, tenant: str, key_id: str) -> bool:
        """Remove the tenant's key with this prefix; False if there is none."""
        ...


class Heartbeat(Protocol):
    """Workers announce themselves every few seconds; readiness asks whether one is alive."""

    @property
    def ttl_s(self) -> int: ...
    def beat(self, worker: str) -> None: ...
    def alive(self) -> bool: ...


class UsageStats(Protocol):
    """Service-wide counters kept as writes happen, so reading them costs O(1), not O(sessions)."""

    def session_grew(
        self,
        tenant: str,
        session_id: str,
        user_id: str,
        before: tuple[int, int],
        after: tuple[int, int],
        pending: bool,
        now_ms: int,
    ) -> None:
        """A session went from (messages, tokens) `before` to `after` at `now_ms`; `pending`:
        turns await indexing."""
        ...

    def session_removed(self, tenant: str, session_id: str, size: tuple[int, int]) -> None: ...
    def indexing_left(self, tenant: str, session_id: str, pending: int) -> None:
        """Indexing ran for the session; `pending` turns still wait."""
        ...

    def write_behind(self, tenant: str, doc_id: str, since: float | None) -> None:
        """A document waits (since unix seconds) for its queued version, or no longer (None)."""
        ...

    def users(self, tenant: str) -> int:
        """Distinct users with a session in the tenant (approximate: HyperLogLog, ±1%)."""
        ...

    def read(self, now_ms: int) -> UsageSnapshot: ...
    def record_vector_counts(self, counts: VectorCounts) -> VectorCounts | None:
        """Keep what a recount of the vector index found; returns the previous recount."""
        ...

    def vector_counts(self) -> VectorCounts | None:
        """The last recount of the vector index (None: none yet)."""
        ...


class Supervision(Protocol):
    """The embedded runtime's watched children, as readiness and liveness see them."""

    def problem(self) -> str | None:
        """Why a child is not serving now (None while all are)."""
        ...

    def failed(self) -> bool:
        """True when a child cannot be brought back: the process must be restarted."""
        ...


class Durability(Protocol):
    """Strict durability: return only once every write acknowledged before is on disk."""

    def check_supported(self) -> None:
        """Raise StoreUnavailable when the store cannot confirm fsyncs (strict is refused)."""
        ...

    def wait_fsynced(self) -> None: ...


class RateLimiter(Protocol):
    """A request rate per API key (token bucket)."""

    rate: float  # requests per second; 0 = no limit

    def take(self, tenant: str, bucket: str) -> float:
        """Take one request from the bucket: 0 if allowed, else the seconds until one is."""
        ...


class Quotas(Protocol):
    """Per-tenant usage counted against storage quotas, kept by the writes and the removals."""

    def reserve(self, tenant: str, quota: str, n: int, limit: int) -> int | None:
        """Count `n` more against `quota` if that stays within `limit` (0: no limit): None
        when counted, else the usage it would have exceeded (nothing counted)."""
        ...

    def release(self, tenant: str, quota: str, n: int) -> None:
        """Count `n` fewer (never below 0)."""
        ...

    def usage(self, tenant: str, quota: str) -> int: ...
