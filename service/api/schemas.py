"""Request and response bodies of API v1 (the exact names are an API: other tools use them)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import (
    AfterValidator,
    AliasPath,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
)
from pydantic.dataclasses import dataclass

from service.domain.chat_format import PART_SEPARATOR
from service.domain.chunking import ChunkerConfig
from service.domain.documents import Document
from service.domain.models import ExclusionReason, NewMessage, Role
from service.domain.validation import ID_PATTERN
from service.usecases import admin

MAX_JSON_DEPTH = 32
_INT64 = 1 << 63


def _text(value: str) -> str:
    try:
        value.encode()
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (no lone surrogates)") from None
    return value


def _json(value: Any, depth: int = 0) -> Any:
    """Free-form JSON we store and serve again: bounded depth, 64-bit integers, valid text."""
    if depth > MAX_JSON_DEPTH:
        raise ValueError(f"nests deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, str):
        _text(value)
    elif isinstance(value, bool) or value is None:
        pass
    elif isinstance(value, int):
        if not -_INT64 <= value < _INT64:
            raise ValueError("integers must fit in 64 bits")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("numbers must be finite")
    elif isinstance(value, dict):
        for key, item in value.items():
            _text(key)
            _json(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _json(item, depth + 1)
    return value


Text = Annotated[str, AfterValidator(_text)]
# Ids in bodies, queries and paths: the pattern the use cases check, stated in the schema.
Id = Annotated[str, Field(pattern=ID_PATTERN)]
PathId = Annotated[str, Path(pattern=ID_PATTERN)]
JsonObject = Annotated[dict[str, Any], AfterValidator(_json)]
# Offsets past this are a mistake, not a page (and Redis rejects them).
MaxOffset = 10_000_000


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TextPart(Body):
    """A text content part, as OpenAI's chat API takes it (images and audio are refused)."""

    type: Literal["text"]
    text: Text


class FunctionCall(Body):
    name: Annotated[Text, Field(min_length=1)]
    arguments: Text  # JSON as the model wrote it (not parsed: models write invalid JSON too)


class FunctionToolCall(Body):
    """A function call of an assistant turn, in OpenAI's shape."""

    id: Annotated[Text, Field(min_length=1)]
    type: Literal["function"]
    function: FunctionCall


class CustomCall(Body):
    name: Annotated[Text, Field(min_length=1)]
    input: Text


class CustomToolCall(Body):
    """A custom-tool call of an assistant turn, in OpenAI's shape."""

    id: Annotated[Text, Field(min_length=1)]
    type: Literal["custom"]
    custom: CustomCall


def _tool_call_tag(value: Any) -> str | None:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return f"type={kind}" if kind in ("function", "custom") else None


# Tagged `type=...`: an error's field names the path without the tag (see api/errors.py).
ToolCall = Annotated[
    Annotated[FunctionToolCall, Tag("type=function")]
    | Annotated[CustomToolCall, Tag("type=custom")],
    Discriminator(_tool_call_tag),
]


class MessageIn(Body):
    id: Id | None = None
    role: Role
    # A string, an array of text parts, or null (what OpenAI sends for an assistant turn that
    # only calls tools): served back in the form it came.
    content: Text | list[TextPart] | None = None
    name: Text | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: Text | None = None
    created_at: datetime | None = None
    metadata: JsonObject = Field(default_factory=dict)

    def to_domain(self) -> NewMessage:
        content, parts = self.content, None
        if isinstance(content, list):
            parts = [p.text for p in content]
            content = PART_SEPARATOR.join(parts)
        return NewMessage(
            id=self.id,
            role=self.role,
            content=content or "",
            content_null=content is None,
            content_parts=parts,
            name=self.name,
            tool_calls=[c.model_dump() for c in self.tool_calls] if self.tool_calls else None,
            tool_call_id=self.tool_call_id,
            created_at=self.created_at,
            metadata=self.metadata,
        )


class AppendIn(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "user_id": "ana",
                    "messages": [
                        {"id": "t1", "role": "user", "content": "My locker code is 31-7-22."},
                        {"id": "t2", "role": "assistant", "content": "Noted."},
                    ],
                }
            ]
        }
    )

    user_id: Id
    messages: list[MessageIn] = Field(min_length=1)


class AppendOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    session_id: str
    appended: int
    duplicates: int
    message_ids: list[str]


class SummaryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version: int
    first_seq: int
    last_seq: int
    messages: int
    tokens: int
    summarizer: str
    created_at: str


def _info(name: str) -> Any:
    return Field(validation_alias=AliasPath("info", name))


class SessionOut(BaseModel):
    """A session, read from the use case's `SessionView` (header fields come from its `info`)."""

    model_config = ConfigDict(from_attributes=True)

    session_id: str = _info("session_id")
    user_id: str = _info("user_id")
    messages: int = _info("message_count")
    tokens: int = _info("tokens")
    indexed: int = _info("indexed")
    pending: int = _info("pending")
    fidelity: str  # the session's own tier, or the configured default
    extract_facts: bool  # the session's own setting, or the configured default
    trimmed: int = _info("trimmed")  # turns whose body left the log (kept in summary and recall)
    summary: SummaryOut | None = None


class SessionSettingsIn(Body):
    """Settings to change; one left out keeps its value."""

    user_id: Id
    fidelity: Literal["full", "balanced", "compact"] | None = None
    extract_facts: bool | None = None  # learn facts from this session's user turns


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    seq: int
    role: Role
    content: str | list[TextPart] | None = Field(validation_alias="chat_content")
    name: str | None = None
    # Turns stored before calls were validated may hold any JSON objects: served as stored.
    tool_calls: list[ToolCall] | list[dict[str, Any]] | None = None
    tool_call_id: str | None = None
    created_at: datetime
    tokens: int
    metadata: dict[str, Any]


class MessagesPage(BaseModel):
    session_id: str
    total: int
    trimmed: int  # the first `trimmed` turns left the log (summarized and indexed): not listed
    offset: int
    limit: int
    messages: list[MessageOut]


class StateIn(BaseModel):
    state: JsonObject
    user_id: str | None = (
        None  # the session's owner: 409 if it is another user's (created when new)
    )


class StateOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    state: dict[str, Any]
    version: int  # also the ETag; 0: never written


class StateVersionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version: int
    updated_at: str
    state: dict[str, Any]


class StateVersionsOut(BaseModel):
    session_id: str
    versions: list[StateVersionOut]  # newest first, as many as retained


class StateRestoreIn(Body):
    version: int
    user_id: str | None = None


class FactIn(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"user_id": "ana", "text": "Ana is vegetarian", "key": "diet"}]
        }
    )

    user_id: Id
    text: Text
    key: Id | None = None
    metadata: JsonObject = Field(default_factory=dict)
    # When the statement became true (event time); default: now. An older one than the key's
    # current fact goes into history.
    valid_from: datetime | None = None
    # The id of the key's fact this write was based on (read as current): another write that
    # replaced it meanwhile is concurrent, and the key's conflict policy decides.
    based_on: str | None = None
    # The session writing (the user's): without `based_on`, the write is based on the fact this
    # session last saw on the key (in a context, a GET or a search made for it).
    session_id: Id | None = None


class FactUpdateIn(Body):
    text: Text
    metadata: JsonObject | None = None


class FactOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    user_id: str
    text: str
    key: str | None
    status: str
    version: int
    recorded_at: datetime
    valid_from: datetime
    valid_to: datetime | None
    metadata: dict[str, Any]
    superseded_by: str | None
    source: str  # api | extracted
    lineage: list[str]  # the message or chunk ids it was derived from
    conflicts_with: list[str]  # status conflict: the concurrent facts kept beside it
    score: float | None = None  # search results only: the fused rank score
    similarity: float | None = None  # search results only: cosine similarity to the query


class FactsOut(BaseModel):
    user_id: str
    facts: list[FactOut]


class FactSearchIn(Body):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"user_id": "ana", "query": "diet", "limit": 5}]}
    )

    user_id: Id
    query: Text
    limit: int = Field(10, ge=1, le=100)
    as_of: datetime | None = None  # what was valid then (event time)
    known_at: datetime | None = None  # as recorded then (record time)
    session_id: Id | None = None  # the session reading: it has seen what is found


class ContextIn(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "session_id": "s1",
                    "user_id": "ana",
                    "budget_tokens": 1024,
                    "response_reserve": 256,
                    "model": "gpt-4o",
                    "system_prompt": "You are a helpful assistant.",
                    "query": "what is my locker code?",
                }
            ]
        }
    )

    session_id: Id
    user_id: Id
    query: Text | None = None
    budget_tokens: int = Field(gt=0)  # at most `max_budget_tokens` (a setting)
    response_reserve: int = Field(0, ge=0)  # below budget_tokens
    model: Text | None = None
    system_prompt: Text | None = None
    tags: list[Id] | None = Field(None, max_length=64)
    doc_ids: list[Id] | None = Field(None, max_length=256)
    recall_scope: Literal["session", "user"] = "session"  # recall old turns of all the user's
    # sessions, not only this one
    # What competes for the budget is valued for: "balanced" (the question first, then the
    # recent turns), "recent" (chat in the present), "recall" (questions about the past).
    strategy: Literal["balanced", "recent", "recall"] | None = None
    # Items less similar to the query than this (cosine) stay out even when budget is free.
    min_relevance: float | None = Field(None, ge=0, le=1)
    # Facts valid at this event time / as recorded at this time (bi-temporal); default: now.
    as_of: datetime | None = None
    known_at: datetime | None = None


class ContextUsage(BaseModel):
    total: int
    by_component: dict[str, int]


class ContextItem(BaseModel):
    kind: Literal["system", "state", "summary", "fact", "message", "chunk"]
    id: str
    component: str
    tokens: int
    score: float | None = None
    version: str | None = None
    doc_id: str | None = None
    chunk: int | None = None
    stale_s: float | None = None  # a chunk whose newer write is pending (write-behind)
    covers: dict[str, Any] | None = None  # a summary: the turns it covers


class ContextExcluded(BaseModel):
    kind: str
    id: str | None
    reason: ExclusionReason
    version: str | None = None


Content = str | list[TextPart]


class SystemMessageOut(BaseModel):
    role: Literal["system"]
    content: Content
    name: str | None = None


class DeveloperMessageOut(BaseModel):
    role: Literal["developer"]
    content: Content
    name: str | None = None


class UserMessageOut(BaseModel):
    role: Literal["user"]
    content: Content
    name: str | None = None


class AssistantMessageOut(BaseModel):
    role: Literal["assistant"]
    content: Content | None  # null: a turn that only calls tools
    name: str | None = None
    tool_calls: list[ToolCall] | None = None


class ToolMessageOut(BaseModel):
    role: Literal["tool"]
    content: Content
    tool_call_id: str


# What /v1/context serves: OpenAI chat message params, one shape per role.
ChatMessageOut = Annotated[
    SystemMessageOut | DeveloperMessageOut | UserMessageOut | AssistantMessageOut | ToolMessageOut,
    Field(discriminator="role"),
]


class ContextOut(BaseModel):
    """The assembled context (documented shape; served pre-serialized for speed)."""

    messages: list[ChatMessageOut]
    usage: ContextUsage
    items: list[ContextItem]
    excluded: list[ContextExcluded]
    context_hash: str
    snapshot_id: str
    degraded: list[str]
    timings_ms: dict[str, float]  # embed_query, retrieve, pack, total (also `Server-Timing`)


class SnapshotRequest(BaseModel):
    """The request a snapshot was assembled for, with the model and query actually used."""

    session_id: str
    user_id: str
    budget_tokens: int
    query: str | None
    response_reserve: int
    model: str
    system_prompt: str | None
    tags: list[str] | None
    doc_ids: list[str] | None
    recall_scope: Literal["session", "user"]
    strategy: str | None
    min_relevance: float | None


class SnapshotOut(ContextOut):
    """What exactly was assembled, kept `snapshot_retention_s`."""

    created_at: str
    request: SnapshotRequest


class SnapshotVerificationOut(BaseModel):
    """A snapshot replayed: `verified` when the hash is the same; else each item that differs,
    `removed` (with why: superseded, deleted, suspect, stale_version, outranked) or `added`."""

    model_config = ConfigDict(from_attributes=True)

    snapshot_id: str
    verified: bool
    context_hash: str
    replayed_hash: str
    differences: list[dict[str, Any]]
    # Items of the snapshot no longer served as they were (superseded, deleted, suspect,
    # stale_version), even where the replay could reproduce them from history.
    changed_since: list[dict[str, Any]]


class DocumentIn(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"text": "The lobby opens at 7.", "tags": ["manual"], "policy": "write_through"}
            ]
        }
    )

    text: Text
    tags: list[Id] = Field(default_factory=list, max_length=64)
    metadata: JsonObject = Field(default_factory=dict)
    policy: Literal["write_through", "write_behind", "invalidate"] | None = None
    ttl_s: int | None = Field(None, gt=0)


class DocumentSearchIn(Body):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"query": "when does the lobby open?", "limit": 5}]}
    )

    query: Text
    limit: int = Field(5, ge=1, le=50)
    tags: list[Id] = Field(default_factory=list, max_length=64)
    doc_ids: list[Id] = Field(default_factory=list, max_length=256)


class FoundChunkOut(BaseModel):
    """A chunk of a document's live version; `score` is its relevance to the query (0-1)."""

    model_config = ConfigDict(from_attributes=True)

    doc_id: str
    version: str
    chunk: int
    text: str
    score: float


class DocumentSearchOut(BaseModel):
    chunks: list[FoundChunkOut]


class DocumentWriteOut(BaseModel):
    """A write built and live (200, with its chunk counts), unchanged (200, nothing done), or
    queued (202, with `job_id`); fields that do not apply are left out."""

    model_config = ConfigDict(from_attributes=True)

    doc_id: str
    version: str
    status: Literal["live", "superseded", "deleted", "unchanged", "updated", "pending"]
    sequence: int | None = None
    chunks: int | None = None
    embedded: int | None = None
    reused: int | None = None
    job_id: str | None = None


class DocumentVersionOut(BaseModel):
    version: str
    sequence: int
    status: str
    chunks: int
    created_at: str
    live_at: str | None
    model: str


class DocumentOut(BaseModel):
    doc_id: str
    status: str
    live_version: str | None
    chunks: int
    tags: list[str]
    metadata: dict[str, Any]
    versions: list[DocumentVersionOut]

    @classmethod
    def of(cls, d: Document) -> DocumentOut:
        live = d.live
        return cls(
            doc_id=d.doc_id,
            status=d.status,
            live_version=live.version if live else None,
            chunks=live.chunks if live else 0,
            tags=d.tags,
            metadata=d.metadata,
            versions=[DocumentVersionOut(**v.to_json()) for v in d.versions],
        )


class DocumentsOut(BaseModel):
    documents: list[DocumentOut]


@dataclass(frozen=True, slots=True, config=ConfigDict(extra="forbid"))
class InvalidationScopeIn(admin.Scope):
    """The use case's `Scope`, validated: what to invalidate (document criteria combine with
    AND, `all` takes every document)."""

    doc_ids: list[str] | None = Field(None, max_length=10_000)


class InvalidateIn(Body):
    scope: InvalidationScopeIn
    action: Literal["drop", "reembed"]


class InvalidatedOut(BaseModel):
    """The invalidation is in effect; `job_id` finishes the cleanup (follow it at /v1/jobs)."""

    model_config = ConfigDict(from_attributes=True)

    job_id: str
    affected: dict[str, Any]


class ReindexOut(BaseModel):
    """A queued re-index (202), or the one already open (200, without `documents`)."""

    model_config = ConfigDict(from_attributes=True)

    job_id: str
    status: Literal["queued", "already_running"]
    documents: int | None = None
    embedding_model: str
    chunker: ChunkerConfig


class UserDeletedOut(BaseModel):
    """Everything of the user is gone; what was removed, counted."""

    model_config = ConfigDict(from_attributes=True)

    user_id: str
    sessions: int
    messages: int
    facts: int
    snapshots: int
    vectors: int
    cache_entries: int


class JobOut(BaseModel):
    """A background job's record; a kind may add fields (a re-index's `done`, `started`)."""

    model_config = ConfigDict(extra="allow")

    job_id: str
    kind: str
    state: Literal["queued", "running", "done", "failed"]
    progress: float
    counts: dict[str, int]
    error: str | None
    payload: dict[str, Any]
    created_at: str
    updated_at: str


class AuditEntryOut(BaseModel):
    at: str
    who: str  # the key's public prefix, or "keyless"
    action: str  # drop, reembed, reindex, revoke_key, delete_user, …
    job_id: str | None = None  # actions that start a job
    scope: dict[str, Any] = {}
    affected: dict[str, Any] = {}


class AuditOut(BaseModel):
    entries: list[AuditEntryOut]


class StatusOut(BaseModel):
    """`failed`: a child process could not be restarted (`reason`); restart the service."""

    status: Literal["ok", "failed"]
    reason: str | None = None


class ReadinessOut(BaseModel):
    """Each check is "ok" or the failing store's message."""

    status: Literal["ok", "unavailable"]
    checks: dict[str, str]
