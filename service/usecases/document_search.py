"""Search the live versions of a tenant's documents (hybrid, truth-checked like a context's)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from service.domain.errors import InvalidInput
from service.domain.points import chunk_filter
from service.domain.validation import check_id
from service.usecases.recall import Search, retrieve
from service.usecases.services import Services

# Over-fetch: hits of superseded or expired versions are dropped by the live-version check.
OVERFETCH = 3


@dataclass(frozen=True, slots=True)
class FoundChunk:
    """A chunk of a document's live version; `score` is its relevance to the query (0-1: dense
    and BM25 ranks fused, the scale contexts rank by)."""

    doc_id: str
    version: str
    chunk: int
    text: str
    score: float


def search_documents(
    svc: Services,
    tenant: str,
    query: str,
    limit: int,
    tags: Sequence[str] = (),
    doc_ids: Sequence[str] = (),
) -> list[FoundChunk]:
    """The `limit` best chunks for `query`, of documents with any of `tags` / among `doc_ids`."""
    if not query.strip():
        raise InvalidInput("query must not be empty", field="query")
    where = chunk_filter(
        tenant, [check_id(t, "tags") for t in tags], [check_id(d, "doc_ids") for d in doc_ids]
    )
    [vector] = svc.embedder.embed([query])
    found = retrieve(
        svc, tenant, "", None, [Search("chunks", where, limit * OVERFETCH)], query, vector
    )
    return [
        FoundChunk(c.doc_id, c.version, c.chunk, c.text, relevance)
        for c, relevance in found.chunks[:limit]
    ]
