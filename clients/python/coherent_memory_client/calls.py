"""Each operation once, as a `Call` (what to send, how to read the answer), so the sync and the
async client differ only in how they send it."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter

from coherent_memory_client.errors import error_from
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
M = TypeVar("M", bound=BaseModel)
Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    method: str
    path: str
    read: Callable[[httpx.Response], T]
    json: Any = None
    params: Mapping[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def arguments(self) -> dict[str, Any]:
        return {"json": self.json, "params": self.params, "headers": self.headers}


def checked(response: httpx.Response) -> httpx.Response:
    """The response, or its typed error."""
    if response.status_code >= 400:
        try:
            body = response.json()
        except ValueError:
            body = response.text
        raise error_from(response.status_code, body)
    return response


@dataclass(frozen=True, slots=True)
class Retry:
    """A 503 (a store is down) or a connection never made (nothing was done) is sent again,
    `max_retries` times, after exponential backoff with jitter (capped at 5 s)."""

    max_retries: int
    backoff_s: float

    def delay(
        self, attempt: int, response: httpx.Response | None, error: Exception | None
    ) -> float | None:
        """Seconds to wait before sending again, or None: the answer stands."""
        if attempt >= self.max_retries:
            return None
        if error is not None:
            retry = isinstance(error, httpx.ConnectError | httpx.ConnectTimeout)
        else:
            retry = response is not None and response.status_code == 503
        return min(5.0, self.backoff_s * 2**attempt) * random.uniform(0.5, 1.0) if retry else None


def outcome(response: httpx.Response | None, error: Exception | None) -> httpx.Response:
    if error is not None:
        raise error
    assert response is not None
    return response


def indexed(session: Session, session_id: str, deadline: float, now: float) -> bool:
    """Whether polling for `wait_until_indexed` is done (raises once the deadline passed)."""
    if session.pending == 0:
        return True
    if now >= deadline:
        raise TimeoutError(f"session {session_id!r}: {session.pending} turns still pending")
    return False


def _model(model: type[M]) -> Callable[[httpx.Response], M]:
    return lambda r: model.model_validate_json(checked(r).content)


def _field(name: str, adapter: TypeAdapter[T]) -> Callable[[httpx.Response], T]:
    return lambda r: adapter.validate_python(checked(r).json()[name])


def _nothing(response: httpx.Response) -> None:
    checked(response)


def _json(response: httpx.Response) -> Json:
    body: Json = checked(response).json()
    return body


_FACTS = TypeAdapter(list[Fact])
_STATE = TypeAdapter(dict[str, Any])
_DOCUMENTS = TypeAdapter(list[Document])
_CHUNKS = TypeAdapter(list[FoundChunk])


def _with_ids(messages: Sequence[Mapping[str, Any]]) -> list[Json]:
    """Each message with an id (generated when absent): a retried append is then idempotent."""
    return [{"id": uuid.uuid4().hex, **m} if not m.get("id") else dict(m) for m in messages]


def _present(**values: Any) -> Json:
    return {k: v for k, v in values.items() if v is not None}


def append_messages(
    session_id: str, user_id: str, messages: Sequence[Mapping[str, Any]]
) -> Call[Appended]:
    body = {"user_id": user_id, "messages": _with_ids(messages)}
    return Call("POST", f"/v1/sessions/{session_id}/messages", _model(Appended), body)


def get_session(session_id: str) -> Call[Session]:
    return Call("GET", f"/v1/sessions/{session_id}", _model(Session))


def list_messages(session_id: str, offset: int, limit: int) -> Call[MessagesPage]:
    params = {"offset": offset, "limit": limit}
    return Call("GET", f"/v1/sessions/{session_id}/messages", _model(MessagesPage), params=params)


def delete_session(session_id: str) -> Call[None]:
    return Call("DELETE", f"/v1/sessions/{session_id}", _nothing)


def set_state(session_id: str, state: Mapping[str, Any]) -> Call[dict[str, Any]]:
    path = f"/v1/sessions/{session_id}/state"
    return Call("PUT", path, _field("state", _STATE), {"state": dict(state)})


def get_state(session_id: str) -> Call[dict[str, Any]]:
    return Call("GET", f"/v1/sessions/{session_id}/state", _field("state", _STATE))


def remember_fact(
    user_id: str,
    text: str,
    key: str | None,
    metadata: Mapping[str, Any] | None,
    based_on: str | None = None,
    session_id: str | None = None,
) -> Call[Fact]:
    body = _present(
        user_id=user_id,
        text=text,
        key=key,
        metadata=metadata,
        based_on=based_on,
        session_id=session_id,
    )
    return Call("POST", "/v1/facts", _model(Fact), body)


def list_facts(user_id: str, offset: int, limit: int) -> Call[list[Fact]]:
    params = {"user_id": user_id, "offset": offset, "limit": limit}
    return Call("GET", "/v1/facts", _field("facts", _FACTS), params=params)


def search_facts(user_id: str, query: str, limit: int) -> Call[list[Fact]]:
    body = {"user_id": user_id, "query": query, "limit": limit}
    return Call("POST", "/v1/facts/search", _field("facts", _FACTS), body)


def get_fact(fact_id: str) -> Call[Fact]:
    return Call("GET", f"/v1/facts/{fact_id}", _model(Fact))


def delete_fact(fact_id: str, if_match: int | None) -> Call[None]:
    headers = {"If-Match": f'"{if_match}"'} if if_match is not None else {}
    return Call("DELETE", f"/v1/facts/{fact_id}", _nothing, headers=headers)


def get_context(session_id: str, user_id: str, budget_tokens: int, options: Json) -> Call[Context]:
    body = {"session_id": session_id, "user_id": user_id, "budget_tokens": budget_tokens}
    return Call("POST", "/v1/context", _model(Context), {**body, **_present(**options)})


def get_snapshot(snapshot_id: str) -> Call[Json]:
    return Call("GET", f"/v1/snapshots/{snapshot_id}", _json)


def put_document(doc_id: str, text: str, options: Json) -> Call[DocumentWrite]:
    body = {"text": text, **_present(**options)}
    return Call("PUT", f"/v1/documents/{doc_id}", _model(DocumentWrite), body)


def search_documents(
    query: str, limit: int, tags: Sequence[str], doc_ids: Sequence[str]
) -> Call[list[FoundChunk]]:
    body = {"query": query, "limit": limit, "tags": list(tags), "doc_ids": list(doc_ids)}
    return Call("POST", "/v1/documents/search", _field("chunks", _CHUNKS), body)


def get_document(doc_id: str) -> Call[Document]:
    return Call("GET", f"/v1/documents/{doc_id}", _model(Document))


def list_documents(tag: str | None, offset: int, limit: int) -> Call[list[Document]]:
    params = _present(tag=tag, offset=offset, limit=limit)
    return Call("GET", "/v1/documents", _field("documents", _DOCUMENTS), params=params)


def delete_document(doc_id: str) -> Call[None]:
    return Call("DELETE", f"/v1/documents/{doc_id}", _nothing)


def get_job(job_id: str) -> Call[Job]:
    return Call("GET", f"/v1/jobs/{job_id}", _model(Job))
