"""Typed answers of the service. Unknown fields are kept (a newer service may add some)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from coherent_memory_client.messages import ChatMessage, Content, ToolCall


class Model(BaseModel):
    model_config = ConfigDict(extra="allow")


class Appended(Model):
    session_id: str
    appended: int
    duplicates: int
    message_ids: list[str]


class Session(Model):
    session_id: str
    user_id: str
    messages: int
    tokens: int
    indexed: int
    pending: int  # turns still being indexed for recall
    fidelity: str
    trimmed: int
    summary: dict[str, Any] | None = None


class StoredMessage(Model):
    id: str
    seq: int
    role: str
    content: Content | None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    created_at: datetime
    tokens: int
    metadata: dict[str, Any]


class MessagesPage(Model):
    session_id: str
    total: int
    trimmed: int
    offset: int
    limit: int
    messages: list[StoredMessage]


class Fact(Model):
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
    score: float | None = None


class Usage(Model):
    total: int
    by_component: dict[str, int]


class ContextItem(Model):
    kind: str
    id: str
    component: str
    tokens: int
    score: float | None = None


class Excluded(Model):
    kind: str
    id: str | None
    reason: str


class Context(Model):
    """The context for one LLM call: `messages` go to the model as they are."""

    messages: list[ChatMessage]
    usage: Usage
    items: list[ContextItem]
    excluded: list[Excluded]
    context_hash: str
    snapshot_id: str
    degraded: list[str]
    timings_ms: dict[str, float] = {}


class DocumentWrite(Model):
    doc_id: str
    version: str
    status: Literal["live", "superseded", "deleted", "unchanged", "pending"]
    sequence: int | None = None
    chunks: int | None = None
    embedded: int | None = None
    reused: int | None = None
    job_id: str | None = None  # a queued write: follow it with `get_job`


class FoundChunk(Model):
    """A chunk of a live document version; `score` is its relevance to the query (0-1)."""

    doc_id: str
    version: str
    chunk: int
    text: str
    score: float


class Document(Model):
    doc_id: str
    status: str
    live_version: str | None
    chunks: int
    tags: list[str]
    metadata: dict[str, Any]
    versions: list[dict[str, Any]]


class Job(Model):
    job_id: str
    kind: str
    state: Literal["queued", "running", "done", "failed"]
    progress: float
    counts: dict[str, int]
    error: str | None
    created_at: str
    updated_at: str
