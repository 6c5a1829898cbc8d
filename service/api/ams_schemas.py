"""Request and response bodies of the Agent Memory Server (AMS) routes, as `agent-memory-client`
0.14 sends and parses them (its pydantic models). Unknown fields are ignored, as AMS does."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from service.api.schemas import ChatMessageOut

MemoryType = Literal["episodic", "semantic", "message"]


class AmsErrorOut(BaseModel):
    """Every error on these routes, in AMS's (FastAPI's) shape: the client reads `detail`."""

    detail: str


class HealthOut(BaseModel):
    now: float  # unix seconds


class AckOut(BaseModel):
    status: str


class SessionListOut(BaseModel):
    sessions: list[str]
    total: int


class MessageIn(BaseModel):
    role: str
    content: str
    id: str | None = None  # the client always sends one (a ULID)
    created_at: datetime | None = None


class MessageOut(BaseModel):
    role: str
    content: str
    id: str
    created_at: datetime
    persisted_at: datetime | None = None
    discrete_memory_extracted: Literal["t", "f"] = "t"


class MemoryRecordIn(BaseModel):
    """A long-term memory as the client writes it; `id` is the client's own."""

    id: str
    text: str
    session_id: str | None = None
    user_id: str | None = None
    namespace: str | None = None
    topics: list[str] | None = None
    entities: list[str] | None = None
    memory_type: MemoryType = "semantic"
    event_date: datetime | None = None


class MemoryRecordOut(BaseModel):
    id: str
    text: str
    session_id: str | None = None
    user_id: str | None = None
    namespace: str | None = None
    last_accessed: datetime
    created_at: datetime
    updated_at: datetime
    topics: list[str] | None = None
    entities: list[str] | None = None
    memory_hash: str | None = None
    discrete_memory_extracted: Literal["t", "f"] = "t"
    memory_type: MemoryType = "semantic"
    persisted_at: datetime | None = None
    extracted_from: list[str] | None = None
    event_date: datetime | None = None


class MemoryRecordResultOut(MemoryRecordOut):
    dist: float  # 1 - cosine similarity to the query (0: the same meaning)


class MemoryRecordResultsOut(BaseModel):
    memories: list[MemoryRecordResultOut]
    total: int
    next_offset: int | None = None


class WorkingMemoryIn(BaseModel):
    """A whole working memory: a PUT replaces the session's turns and data with these."""

    messages: list[MessageIn] = Field(default_factory=list)
    memories: list[MemoryRecordIn] = Field(default_factory=list)
    data: dict[str, Any] | None = None
    context: str | None = None  # ignored: the summary is ours, written by compaction
    user_id: str | None = None
    session_id: str | None = None  # the path's wins
    namespace: str | None = None


class WorkingMemoryOut(BaseModel):
    messages: list[MessageOut]
    memories: list[MemoryRecordOut]
    data: dict[str, Any] | None
    context: str | None  # the session's rolling summary
    user_id: str | None
    tokens: int
    session_id: str
    namespace: str | None
    ttl_seconds: int | None = None
    last_accessed: datetime
    context_percentage_total_used: float | None = None
    context_percentage_until_summarization: float | None = None
    new_session: bool | None = None
    unsaved: bool | None = None


class CreateMemoriesIn(BaseModel):
    memories: list[MemoryRecordIn]
    deduplicate: bool = True  # near-duplicates always merge here


class EditMemoryIn(BaseModel):
    text: str | None = None
    topics: list[str] | None = None
    entities: list[str] | None = None
    memory_type: MemoryType | None = None
    namespace: str | None = None
    user_id: str | None = None
    session_id: str | None = None
    event_date: datetime | None = None


class TagFilter(BaseModel):
    """eq / in_ / not_eq / not_in on one string field (the client dumps `in_` as is)."""

    eq: str | None = None
    in_: list[str] | None = None
    not_eq: str | None = None
    not_in: list[str] | None = None


class ListFilter(BaseModel):
    """any / all / none over a list field (topics, entities)."""

    any: list[str] | None = None
    all: list[str] | None = None
    none: list[str] | None = None


class TimeFilter(BaseModel):
    gte: datetime | None = None
    lte: datetime | None = None
    eq: datetime | None = None


class SearchIn(BaseModel):
    text: str = ""
    limit: int = Field(10, ge=1, le=1000)
    offset: int = Field(0, ge=0, le=10_000)
    session_id: TagFilter | None = None
    namespace: TagFilter | None = None
    user_id: TagFilter | None = None
    memory_type: TagFilter | None = None
    topics: ListFilter | None = None
    entities: ListFilter | None = None
    created_at: TimeFilter | None = None
    last_accessed: TimeFilter | None = None
    event_date: TimeFilter | None = None
    distance_threshold: float | None = Field(None, ge=0, le=2)


class PromptSessionIn(BaseModel):
    session_id: str
    namespace: str | None = None
    model_name: str | None = None
    context_window_max: int | None = Field(None, ge=1)
    user_id: str | None = None


class PromptIn(BaseModel):
    query: str
    session: PromptSessionIn | None = None
    long_term_search: SearchIn | None = None


class PromptOut(BaseModel):
    """OpenAI chat messages, as /v1/context serves them (AMS sends MCP prompt messages; the
    client keeps whatever dicts come)."""

    messages: list[ChatMessageOut]
