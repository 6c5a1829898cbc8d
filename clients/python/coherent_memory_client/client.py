"""`CoherentMemory` (sync) and `AsyncCoherentMemory`: the same methods, over httpx."""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypedDict, TypeVar, Unpack

import httpx

from coherent_memory_client import calls
from coherent_memory_client.calls import Call, Retry, indexed, outcome
from coherent_memory_client.models import (
    Appended,
    Context,
    Document,
    DocumentWrite,
    Fact,
    FoundChunk,
    Job,
    MessagesPage,
    Session,
)

T = TypeVar("T")
DEFAULT_URL = "http://127.0.0.1:8080"


class ContextOptions(TypedDict, total=False):
    """`POST /v1/context`'s optional fields (docs/api.md)."""

    query: str
    response_reserve: int
    model: str
    system_prompt: str
    tags: Sequence[str]
    doc_ids: Sequence[str]
    recall_scope: Literal["session", "user"]
    strategy: Literal["balanced", "recent", "recall"]
    min_relevance: float


class DocumentOptions(TypedDict, total=False):
    """`PUT /v1/documents/{doc_id}`'s optional fields (docs/api.md)."""

    tags: Sequence[str]
    metadata: Mapping[str, Any]
    policy: Literal["write_through", "write_behind", "invalidate"]
    ttl_s: int


def _headers(api_key: str | None) -> dict[str, str]:
    key = api_key if api_key is not None else os.environ.get("CMEM_API_KEY")
    return {"Authorization": f"Bearer {key}"} if key else {}


def _base_url(base_url: str | None) -> str:
    return base_url or os.environ.get("CMEM_URL") or DEFAULT_URL


class CoherentMemory:
    """A synchronous client. `api_key` defaults to `$CMEM_API_KEY`, `base_url` to `$CMEM_URL`
    or http://127.0.0.1:8080. A 503 or a refused connection is retried `max_retries` times
    with exponential backoff; every other error raises its typed `CoherentMemoryError`."""

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        max_retries: int = 3,
        backoff_s: float = 0.2,
        http: httpx.Client | None = None,
    ) -> None:
        self.retry = Retry(max_retries, backoff_s)
        self._http = http or httpx.Client(base_url=_base_url(base_url), timeout=timeout)
        self._http.headers.update(_headers(api_key))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> CoherentMemory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, call: Call[T]) -> T:
        """Send one call, retrying a 503 or a refused connection with backoff."""
        for attempt in itertools.count():
            response, error = None, None
            try:
                response = self._http.request(call.method, call.path, **call.arguments())
            except httpx.TransportError as exc:
                error = exc
            delay = self.retry.delay(attempt, response, error)
            if delay is None:
                break
            time.sleep(delay)
        return call.read(outcome(response, error))

    # Sessions

    def append_messages(
        self, session_id: str, user_id: str, messages: Sequence[Mapping[str, Any]]
    ) -> Appended:
        """Append OpenAI-shaped turns (ids generated when absent, so a retry is idempotent)."""
        return self.send(calls.append_messages(session_id, user_id, messages))

    def get_session(self, session_id: str) -> Session:
        return self.send(calls.get_session(session_id))

    def list_messages(self, session_id: str, offset: int = 0, limit: int = 100) -> MessagesPage:
        return self.send(calls.list_messages(session_id, offset, limit))

    def delete_session(self, session_id: str) -> None:
        self.send(calls.delete_session(session_id))

    def set_state(self, session_id: str, state: Mapping[str, Any]) -> dict[str, Any]:
        return self.send(calls.set_state(session_id, state))

    def get_state(self, session_id: str) -> dict[str, Any]:
        return self.send(calls.get_state(session_id))

    def wait_until_indexed(
        self, session_id: str, timeout: float = 30.0, interval: float = 0.1
    ) -> Session:
        """Poll until the session's turns are all indexed for recall (`pending == 0`)."""
        deadline = time.monotonic() + timeout
        while not indexed(
            session := self.get_session(session_id), session_id, deadline, time.monotonic()
        ):
            time.sleep(interval)
        return session

    # Facts

    def remember_fact(
        self,
        user_id: str,
        text: str,
        key: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        *,
        based_on: str | None = None,
        session_id: str | None = None,
    ) -> Fact:
        """`based_on`: the id of the key's fact you read as current (a write since then makes
        the two concurrent); `session_id`: the session writing, whose last-seen fact on the key
        is the base when `based_on` is not given."""
        return self.send(calls.remember_fact(user_id, text, key, metadata, based_on, session_id))

    def list_facts(self, user_id: str, offset: int = 0, limit: int = 100) -> list[Fact]:
        return self.send(calls.list_facts(user_id, offset, limit))

    def search_facts(self, user_id: str, query: str, limit: int = 10) -> list[Fact]:
        return self.send(calls.search_facts(user_id, query, limit))

    def get_fact(self, fact_id: str) -> Fact:
        return self.send(calls.get_fact(fact_id))

    def delete_fact(self, fact_id: str, if_match: int | None = None) -> None:
        self.send(calls.delete_fact(fact_id, if_match))

    # Context

    def get_context(
        self, session_id: str, user_id: str, budget_tokens: int, **options: Unpack[ContextOptions]
    ) -> Context:
        """The context for one LLM call; `context.messages` go to the model as they are."""
        return self.send(calls.get_context(session_id, user_id, budget_tokens, dict(options)))

    def get_snapshot(self, snapshot_id: str) -> dict[str, Any]:
        return self.send(calls.get_snapshot(snapshot_id))

    # Documents and jobs

    def put_document(
        self, doc_id: str, text: str, **options: Unpack[DocumentOptions]
    ) -> DocumentWrite:
        return self.send(calls.put_document(doc_id, text, dict(options)))

    def search_documents(
        self, query: str, limit: int = 5, tags: Sequence[str] = (), doc_ids: Sequence[str] = ()
    ) -> list[FoundChunk]:
        """Chunks of live document versions, best first."""
        return self.send(calls.search_documents(query, limit, tags, doc_ids))

    def get_document(self, doc_id: str) -> Document:
        return self.send(calls.get_document(doc_id))

    def list_documents(
        self, tag: str | None = None, offset: int = 0, limit: int = 100
    ) -> list[Document]:
        return self.send(calls.list_documents(tag, offset, limit))

    def delete_document(self, doc_id: str) -> None:
        self.send(calls.delete_document(doc_id))

    def get_job(self, job_id: str) -> Job:
        return self.send(calls.get_job(job_id))


class AsyncCoherentMemory:
    """The asynchronous client: `CoherentMemory`'s methods, awaited."""

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        max_retries: int = 3,
        backoff_s: float = 0.2,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.retry = Retry(max_retries, backoff_s)
        self._http = http or httpx.AsyncClient(base_url=_base_url(base_url), timeout=timeout)
        self._http.headers.update(_headers(api_key))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncCoherentMemory:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def send(self, call: Call[T]) -> T:
        for attempt in itertools.count():
            response, error = None, None
            try:
                response = await self._http.request(call.method, call.path, **call.arguments())
            except httpx.TransportError as exc:
                error = exc
            delay = self.retry.delay(attempt, response, error)
            if delay is None:
                break
            await asyncio.sleep(delay)
        return call.read(outcome(response, error))

    async def append_messages(
        self, session_id: str, user_id: str, messages: Sequence[Mapping[str, Any]]
    ) -> Appended:
        return await self.send(calls.append_messages(session_id, user_id, messages))

    async def get_session(self, session_id: str) -> Session:
        return await self.send(calls.get_session(session_id))

    async def list_messages(
        self, session_id: str, offset: int = 0, limit: int = 100
    ) -> MessagesPage:
        return await self.send(calls.list_messages(session_id, offset, limit))

    async def delete_session(self, session_id: str) -> None:
        await self.send(calls.delete_session(session_id))

    async def set_state(self, session_id: str, state: Mapping[str, Any]) -> dict[str, Any]:
        return await self.send(calls.set_state(session_id, state))

    async def get_state(self, session_id: str) -> dict[str, Any]:
        return await self.send(calls.get_state(session_id))

    async def wait_until_indexed(
        self, session_id: str, timeout: float = 30.0, interval: float = 0.1
    ) -> Session:
        deadline = time.monotonic() + timeout
        while not indexed(
            session := await self.get_session(session_id), session_id, deadline, time.monotonic()
        ):
            await asyncio.sleep(interval)
        return session

    async def remember_fact(
        self,
        user_id: str,
        text: str,
        key: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        *,
        based_on: str | None = None,
        session_id: str | None = None,
    ) -> Fact:
        """`based_on`: the id of the key's fact you read as current (a write since then makes
        the two concurrent); `session_id`: the session writing, whose last-seen fact on the key
        is the base when `based_on` is not given."""
        return await self.send(
            calls.remember_fact(user_id, text, key, metadata, based_on, session_id)
        )

    async def list_facts(self, user_id: str, offset: int = 0, limit: int = 100) -> list[Fact]:
        return await self.send(calls.list_facts(user_id, offset, limit))

    async def search_facts(self, user_id: str, query: str, limit: int = 10) -> list[Fact]:
        return await self.send(calls.search_facts(user_id, query, limit))

    async def get_fact(self, fact_id: str) -> Fact:
        return await self.send(calls.get_fact(fact_id))

    async def delete_fact(self, fact_id: str, if_match: int | None = None) -> None:
        await self.send(calls.delete_fact(fact_id, if_match))

    async def get_context(
        self, session_id: str, user_id: str, budget_tokens: int, **options: Unpack[ContextOptions]
    ) -> Context:
        return await self.send(calls.get_context(session_id, user_id, budget_tokens, dict(options)))

    async def get_snapshot(self, snapshot_id: str) -> dict[str, Any]:
        return await self.send(calls.get_snapshot(snapshot_id))

    async def put_document(
        self, doc_id: str, text: str, **options: Unpack[DocumentOptions]
    ) -> DocumentWrite:
        return await self.send(calls.put_document(doc_id, text, dict(options)))

    async def search_documents(
        self, query: str, limit: int = 5, tags: Sequence[str] = (), doc_ids: Sequence[str] = ()
    ) -> list[FoundChunk]:
        return await self.send(calls.search_documents(query, limit, tags, doc_ids))

    async def get_document(self, doc_id: str) -> Document:
        return await self.send(calls.get_document(doc_id))

    async def list_documents(
        self, tag: str | None = None, offset: int = 0, limit: int = 100
    ) -> list[Document]:
        return await self.send(calls.list_documents(tag, offset, limit))

    async def delete_document(self, doc_id: str) -> None:
        await self.send(calls.delete_document(doc_id))

    async def get_job(self, job_id: str) -> Job:
        return await self.send(calls.get_job(job_id))
