"""Document and job routes: write by policy, read, list, delete; job status."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response
from starlette.concurrency import run_in_threadpool

from service.api.deps import Caller, Svc
from service.api.durability import DurabilityQuery, acknowledged
from service.api.errors import responses
from service.api.schemas import (
    DocumentIn,
    DocumentOut,
    DocumentSearchIn,
    DocumentSearchOut,
    DocumentsOut,
    DocumentWriteOut,
    FoundChunkOut,
    JobOut,
    MaxOffset,
    PathId,
)
from service.domain import errors as e
from service.domain.validation import ID_PATTERN
from service.usecases import documents, jobs
from service.usecases.document_search import search_documents

router = APIRouter(tags=["documents"])


@router.post("/v1/documents/search")
async def search(body: DocumentSearchIn, svc: Svc, caller: Caller) -> DocumentSearchOut:
    """Chunks of live document versions, best first (the same checks as a context's)."""
    found = await run_in_threadpool(
        search_documents, svc, caller.tenant, body.query, body.limit, body.tags, body.doc_ids
    )
    return DocumentSearchOut(chunks=[FoundChunkOut.model_validate(c) for c in found])


@router.put(
    "/v1/documents/{doc_id}",
    response_model_exclude_none=True,
    responses={
        202: {"model": DocumentWriteOut, "description": "Queued: built by a job"},
        **responses(e.PreconditionFailed, e.QuotaExceeded),
    },
)
async def put(
    doc_id: PathId,
    body: DocumentIn,
    svc: Svc,
    caller: Caller,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
    durability: DurabilityQuery = None,
) -> DocumentWriteOut:
    result = await run_in_threadpool(
        documents.ingest_document,
        svc,
        caller.tenant,
        doc_id,
        body.text,
        tags=body.tags,
        metadata=body.metadata,
        policy=body.policy,
        ttl_s=body.ttl_s,
        if_match=if_match,
    )
    await acknowledged(svc, durability)
    if result.status == "pending":
        response.status_code = 202
    if result.etag:
        response.headers["ETag"] = result.etag
    return DocumentWriteOut.model_validate(result)


@router.get("/v1/documents/{doc_id}", responses=responses(e.NotFound))
async def get(doc_id: PathId, svc: Svc, caller: Caller, response: Response) -> DocumentOut:
    document = await run_in_threadpool(documents.get_document, svc, caller.tenant, doc_id)
    response.headers["ETag"] = document.etag
    return DocumentOut.of(document)


@router.get("/v1/documents")
async def list_documents(
    svc: Svc,
    caller: Caller,
    tag: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    status: str | None = Query(None, pattern="^(live|pending|none)$"),
    offset: int = Query(0, ge=0, le=MaxOffset),
    limit: int = Query(100, ge=1, le=1000),
) -> DocumentsOut:
    found = await run_in_threadpool(
        documents.list_documents, svc, caller.tenant, tag, status, offset, limit
    )
    return DocumentsOut(documents=[DocumentOut.of(d) for d in found])


@router.delete("/v1/documents/{doc_id}", status_code=204, responses=responses(e.NotFound))
async def delete(doc_id: PathId, svc: Svc, caller: Caller) -> Response:
    await run_in_threadpool(documents.delete_document, svc, caller.tenant, doc_id)
    return Response(status_code=204)


@router.get("/v1/jobs/{job_id}", tags=["jobs"], responses=responses(e.NotFound))
async def job(job_id: PathId, svc: Svc, caller: Caller) -> JobOut:
    return JobOut.model_validate(await run_in_threadpool(jobs.get_job, svc, caller.tenant, job_id))
