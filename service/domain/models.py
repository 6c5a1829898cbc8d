"""Records of the data model. Every record carries its tenant."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, NotRequired, TypedDict

from service.domain.chat_format import wire_content
from service.domain.sparse import SparseVector

if TYPE_CHECKING:
    from service.domain.summaries import Summary

# OpenAI's chat roles ("developer" is the system role of the reasoning models).
Role = Literal["developer", "system", "user", "assistant", "tool"]
ROLES: tuple[Role, ...] = ("developer", "system", "user", "assistant", "tool")

FactStatus = Literal["active", "superseded", "conflict", "suspect", "deleted"]
FactSource = Literal["api", "extracted"]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the tenant comes from the API key, never from the body."""

    tenant: str
    roles: frozenset[str]
    key_id: str = "keyless"  # the key's public prefix, for the audit log

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message as a client submits it; the id is generated when absent.

    `content` is always the text (counted, embedded, summarized); how the client sent it is kept
    so the turn is served back in that form: `content_null` (an assistant turn that only calls
    tools sent `null`) or `content_parts` (an array of text parts, `content` is them joined)."""

    role: Role
    content: str
    id: str | None = None
    content_null: bool = False
    content_parts: list[str] | None = None
    name: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None
    created_at: datetime | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


# Why an item is not in a context; every exclusion in every context says one of these.
ExclusionReason = Literal[
    "budget",  # competed and lost
    "low_relevance",  # under the request's min_relevance
    "duplicate",  # says again what is there verbatim
    "stale",  # not (or no longer) its source's current version
    "expired",  # past its TTL
    "invalidated",  # indexed before an operator invalidation
    "superseded",  # a fact replaced by a newer one
    "suspect",  # derived from a source that changed
    "conflict",  # a fact in an unresolved conflict
    "deleted",
    "incomplete_tool_call",
]


class Excluded(TypedDict):
    """An item left out of a context, and why (the one shape `excluded` has)."""

    kind: str
    id: str
    reason: ExclusionReason
    version: NotRequired[str]


def excluded(kind: str, item_id: str, reason: ExclusionReason, version: str = "") -> Excluded:
    out = Excluded(kind=kind, id=item_id, reason=reason)
    if version:
        out["version"] = version
    return out


@dataclass(frozen=True, slots=True)
class Message:
    """One turn of a session's append-only log."""

    tenant: str
    session_id: str
    user_id: str
    id: str
    seq: int
    role: Role
    content: str
    created_at: datetime
    tokens: int
    name: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    tokens_encoding: str = ""  # what `tokens` was counted with; "" = unknown
    segment_start: bool = False  # opens a new topic segment (set when indexed)
    content_null: bool = False  # sent as `null` (see NewMessage)
    content_parts: list[str] | None = None  # sent as text parts (see NewMessage)

    @property
    def chat_content(self) -> str | list[Any] | None:
        """`content` in the form the client sent it (a string, null or text parts)."""
        return wire_content(self.content, self.content_null, self.content_parts)


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A session's header: owner, size and background work still pending."""

    tenant: str
    session_id: str
    user_id: str
    message_count: int
    tokens: int
    indexed: int
    pending: int
    epoch: int
    fidelity: str | None = None  # set per session; None = the configured default
    extract_facts: bool | None = None  # set per session; None = the configured default
    trimmed: int = 0  # turns whose body left the log (summarized and indexed first)
    deleted: int = 0  # turns deleted one by one (their ids stay in the log as tombstones)


@dataclass(frozen=True, slots=True)
class SessionHead:
    """What a context needs of a session before any search, read in one round trip: the
    header, the summary, working memory, the turns after the summary (newest first, enough
    to fill the budget) and the last user turn (None when not asked for or not found).
    Working memory can exist before the session's first turn: `info` None then."""

    info: SessionInfo | None
    summary: Summary | None
    state: dict[str, Any] | None
    recent: list[Message]
    last_user: Message | None


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An API key as operators see it: its public prefix (the key id), never the key."""

    key_id: str
    tenant: str
    role: str
    created_at: str | None


@dataclass(frozen=True, slots=True)
class AppendResult:
    """What an append did: new ids in order, and how many were already there."""

    session_id: str
    appended: int
    duplicates: int
    message_ids: list[str]
    new_ids: list[str]
    epoch: int
    messages: int = 0  # the session's size after the append
    tokens: int = 0


@dataclass(frozen=True, slots=True)
class StateVersion:
    """One retained version of a session's working memory."""

    version: int
    updated_at: str
    state: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Fact:
    """A long-term statement about a user, versioned and with lineage."""

    tenant: str
    id: str
    user_id: str
    text: str
    key: str | None
    status: FactStatus
    version: int
    recorded_at: datetime
    valid_from: datetime
    valid_to: datetime | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    lineage: list[str] = field(default_factory=list)  # message or chunk ids it came from
    superseded_by: str | None = None
    source: FactSource = "api"
    conflicts_with: list[str] = field(default_factory=list)  # concurrent writes kept beside it
    external_id: str | None = None  # the client's own id for it (unique per tenant)


@dataclass(frozen=True, slots=True)
class VectorPoint:
    """A point for the vector index: deterministic id, dense vector, flat payload."""

    id: str
    vector: list[float]
    payload: dict[str, Any]
    sparse: SparseVector | None = None  # BM25 term weights, for hybrid retrieval


@dataclass(frozen=True, slots=True)
class VectorQuery:
    """One search of a batch: its own vector, filter and limit. Dense alone when `sparse` is
    None; sparse alone when `vector` is empty; both, fused by rank in the store, otherwise.
    Without payload, hits carry id and score only (fetch the few you keep with `retrieve`)."""

    vector: Sequence[float]
    where: VectorFilter
    limit: int
    sparse: SparseVector | None = None
    with_payload: bool = True


@dataclass(frozen=True, slots=True)
class VectorHit:
    """A point returned by a query, with its similarity score."""

    id: str
    score: float
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class VectorFilter:
    """Conjunctive payload filter: field == value, or field in values for a list.

    Values are strings or integers only: qdrant-edge-py turns booleans into 0/1.
    """

    must: dict[str, str | int | list[str]] = field(default_factory=dict)
    must_not: dict[str, str | int | list[str]] = field(default_factory=dict)
    below: dict[str, int] = field(default_factory=dict)  # field < value (integer fields)
    missing: tuple[str, ...] = ()  # fields the payload lacks (or holds empty)
