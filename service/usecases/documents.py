"""Document use cases: ingest by policy, build a version (idempotent), read, list, delete.

Coherence (DESIGN.md rules 1-4, 7, 8): chunks of a new version are written `pending` with
deterministic ids, the live version switches by compare-and-set on the write's sequence, old
chunks are marked `stale`; readers check every chunk hit against the live-version map, so a
half-finished cleanup never leaks. Chunks whose content was embedded before reuse that vector.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import structlog

from service.domain.chunking import Chunk, ChunkerConfig, chunk_text, document_version
from service.domain.documents import POLICIES, Document, DocumentVersion, LiveVersion
from service.domain.errors import InvalidInput, NotFound, PreconditionFailed, TooLarge
from service.domain.models import VectorHit, VectorPoint
from service.domain.points import (
    ChunkRef,
    chunk_live,
    chunk_payload,
    chunk_point_id,
    chunk_ref,
    chunk_stale,
    document_chunks_filter,
    other_live_chunks_filter,
    stale_chunks_filter,
    version_chunks_filter,
)
from service.domain.sparse import encode_document
from service.domain.validation import check_id
from service.tasks import INGEST
from service.usecases.embedding import embed_cached
from service.usecases.jobs import start_job
from service.usecases.quotas import quota_limit, refuse
from service.usecases.services import Services

log = structlog.get_logger()


def chunker(svc: Services) -> ChunkerConfig:
    s = svc.settings
    return ChunkerConfig(s.chunk_max_tokens, s.chunk_overlap_tokens, s.chunk_encoding)


@dataclass(frozen=True, slots=True)
class DocumentResult:
    """What a write did: built now (`live`, `superseded` by a newer write, or `deleted`
    meanwhile), nothing (`unchanged`), only tags/metadata (`updated`: same text), or queued
    (`pending`, as job `job_id`)."""

    doc_id: str
    version: str
    status: Literal["live", "superseded", "deleted", "unchanged", "updated", "pending"]
    sequence: int | None = None  # the write's place in the document's order (none: unchanged)
    chunks: int | None = None  # built writes only, as are embedded and reused
    embedded: int | None = None
    reused: int | None = None
    job_id: str | None = None  # pending writes only
    etag: str | None = None  # the document record's revision after the write (If-Match)


def ingest_document(
    svc: Services,
    tenant: str,
    doc_id: str,
    text: str,
    *,
    tags: list[str] | None = None,
    metadata: dict[str, Any] | None = None,
    policy: str | None = None,
    ttl_s: int | None = None,
    if_match: str | None = None,
) -> DocumentResult:
    """Write a document by policy: built and live on return (`write_through`), or queued.
    With `if_match`, only while the document is still at that ETag (else 412)."""
    check_id(doc_id, "doc_id")
    tags = [check_id(t, "tags") for t in (tags or [])]
    policy = policy or svc.settings.document_write_policy
    if policy not in POLICIES:
        raise InvalidInput(f"policy must be one of {', '.join(POLICIES)}", field="policy")
    if not text.strip():
        raise InvalidInput("text must not be empty", field="text")
    if len(text) > svc.settings.max_document_chars:
        raise TooLarge(
            f"text has {len(text)} characters; the limit is {svc.settings.max_document_chars}",
            field="text",
        )
    if ttl_s is not None and ttl_s <= 0:
        raise InvalidInput("ttl_s must be positive", field="ttl_s")
    svc.index.check_writable()  # refused here, not half written (or a SIGBUS) later
    metadata = metadata or {}
    document = svc.documents.get(tenant, doc_id)
    expected = _expected_revision(doc_id, document, if_match)
    version = document_version(text, chunker(svc), svc.embedder.model_name)
    live = svc.documents.live(tenant, [doc_id]).get(doc_id)
    if live is not None and live.version == version and ttl_s is None and document is not None:
        if document.tags == tags and document.metadata == metadata:
            return DocumentResult(
                doc_id, version, "unchanged", embedded=0, reused=0, etag=document.etag
            )
        return _relabel(svc, tenant, doc_id, version, tags, metadata, expected)
    if document is None:
        _check_document_quota(svc, tenant)
    chunks = chunks_of(svc, text)
    now = svc.clock()
    expires_at = int(now.timestamp()) + ttl_s if ttl_s else 0
    sequence = add_pending_version(
        svc, tenant, doc_id, version, text, len(chunks), tags, metadata, now, expected
    )
    etag = _etag(svc, tenant, doc_id)
    if policy == "write_through":
        built = build_version(svc, tenant, doc_id, version, sequence, expires_at, chunks=chunks)
        return DocumentResult(**built, etag=etag)
    if policy == "invalidate":
        # Strict: the old version stops serving now, before the new one is built.
        stop_serving(svc, tenant, doc_id, sequence, now)
    else:
        # Write-behind: the old version serves until the switch; reads report for how long.
        svc.documents.mark_pending(tenant, doc_id, sequence, now.timestamp())
        svc.usage.write_behind(tenant, doc_id, now.timestamp())
    job = {
        "tenant": tenant,
        "doc_id": doc_id,
        "version": version,
        "sequence": sequence,
        "expires_at": expires_at,
    }
    job_id = start_job(svc, tenant, INGEST, job, job)
    log.info(
        "documents.queued",
        tenant=tenant,
        doc_id=doc_id,
        version=version,
        sequence=sequence,
        policy=policy,
        job_id=job_id,
    )
    return DocumentResult(doc_id, version, "pending", sequence, job_id=job_id, etag=etag)


def _check_document_quota(svc: Services, tenant: str) -> None:
    """A new document past the tenant's documents quota is refused (counted from the store's
    own index of the tenant's documents: exact, and freed by every delete)."""
    limit = quota_limit(svc, tenant, "documents")
    if limit and (used := svc.documents.count(tenant)) >= limit:
        raise refuse("documents", limit, used, 1)


def _expected_revision(doc_id: str, document: Document | None, if_match: str | None) -> int | None:
    """The revision an If-Match names (checked again atomically by the write); 412 now if the
    document is already elsewhere. `*` asks only that the document exists."""
    if if_match is None:
        return None
    if document is None:
        raise PreconditionFailed(f"document {doc_id!r} does not exist", field="If-Match")
    if if_match.strip() == "*":
        return None
    if if_match.strip().removeprefix("W/").strip('"') != str(document.revision):
        raise PreconditionFailed(
            f"document {doc_id!r} is at {document.etag}, not {if_match}", field="If-Match"
        )
    return document.revision


def _etag(svc: Services, tenant: str, doc_id: str) -> str | None:
    document = svc.documents.get(tenant, doc_id)
    return document.etag if document is not None else None


def _relabel(
    svc: Services,
    tenant: str,
    doc_id: str,
    version: str,
    tags: list[str],
    metadata: dict[str, Any],
    expected: int | None,
) -> DocumentResult:
    """Same text, new tags or metadata: the record changes, and the live chunks' tags (what
    context filters on) with it; nothing is re-embedded."""
    revision = svc.documents.set_labels(
        tenant, doc_id, tags, metadata, svc.clock().isoformat(), expected
    )
    if revision == -1:
        raise PreconditionFailed(f"document {doc_id!r} changed meanwhile", field="If-Match")
    if revision == 0:
        raise NotFound(f"document {doc_id!r} not found")
    svc.index.set_payload_where(version_chunks_filter(tenant, doc_id, version), {"tags": tags})
    log.info("documents.relabelled", tenant=tenant, doc_id=doc_id, version=version)
    return DocumentResult(doc_id, version, "updated", embedded=0, reused=0, etag=f'"{revision}"')


def add_pending_version(
    svc: Services,
    tenant: str,
    doc_id: str,
    version: str,
    text: str,
    chunks: int,
    tags: list[str],
    metadata: dict[str, Any],
    now: datetime,
    expected_revision: int | None = None,
) -> int:
    """Record `version` as pending at a fresh sequence, its text kept for the build; returns
    the sequence (the build's right to go live, against every other write). With
    `expected_revision`, only while the record is still there (If-Match; else 412)."""
    sequence = svc.documents.next_sequence(tenant, doc_id)
    entry = DocumentVersion(
        version, sequence, "pending", chunks, now.isoformat(), model=svc.embedder.model_name
    )
    if (
        svc.documents.add_version(tenant, doc_id, entry, text, tags, metadata, expected_revision)
        < 0
    ):
        raise PreconditionFailed(f"document {doc_id!r} changed meanwhile", field="If-Match")
    return sequence


def stop_serving(svc: Services, tenant: str, doc_id: str, sequence: int, now: datetime) -> None:
    """The "nothing live" marker at `sequence`: reads stop serving the document now, and no
    job of an earlier write can switch it back."""
    svc.documents.switch_live(tenant, doc_id, "", sequence, 0, now.isoformat())


def build_version(
    svc: Services,
    tenant: str,
    doc_id: str,
    version: str,
    sequence: int,
    expires_at: int,
    reuse_vectors: bool = True,
    chunks: list[Chunk] | None = None,
) -> dict[str, Any]:
    """Chunk, embed (reusing cached vectors), upsert pending, switch live, mark old stale.

    Idempotent: deterministic point ids; the switch refuses an older or repeated write.
    """
    text = svc.documents.source(tenant, doc_id, version)
    if text is None:  # deleted meanwhile (the tombstone removed the source)
        return {"doc_id": doc_id, "version": version, "sequence": sequence, "status": "deleted"}
    if chunks is None:  # a caller that just chunked this text passes them in
        chunks = chunks_of(svc, text)
    vectors, embedded = embed_cached(svc, tenant, [c.text for c in chunks], reuse=reuse_vectors)
    document = svc.documents.get(tenant, doc_id)
    tags = document.tags if document else []
    points = [
        VectorPoint(
            chunk_point_id(tenant, doc_id, version, c.index),
            vector,
            chunk_payload(tenant, doc_id, version, c, tags, expires_at, svc.embedder.model_name),
            encode_document(c.text),
        )
        for c, vector in zip(chunks, vectors, strict=True)
    ]
    svc.index.upsert(points)
    switched, _ = svc.documents.switch_live(
        tenant, doc_id, version, sequence, expires_at, svc.clock().isoformat()
    )
    live = None if switched else svc.documents.live(tenant, [doc_id]).get(doc_id)
    if switched or (live is not None and live.version == version):
        # Also when an earlier run of this build switched and then crashed: marking is
        # idempotent, so a re-run finishes it.
        settle_chunks(svc, tenant, doc_id, version)
        status = "live"
        _settle_write_behind(svc, tenant, doc_id)
    else:
        svc.index.delete_ids([p.id for p in points])  # a newer write won: never served
        status = "superseded"
    result = {
        "doc_id": doc_id,
        "version": version,
        "sequence": sequence,
        "status": status,
        "chunks": len(chunks),
        "embedded": embedded,
        "reused": len(chunks) - embedded,
    }
    log.info("documents.built", tenant=tenant, **result)
    return result


def settle_chunks(svc: Services, tenant: str, doc_id: str, version: str) -> None:
    """Mark the live version's chunks `live`, and every other version's still-`live` chunks
    `stale` (readers ignore them already, by the live-version map; the marker lets the sweep
    find them). By filter, not ids: chunks removed meanwhile are no error."""
    svc.index.set_payload_where(version_chunks_filter(tenant, doc_id, version), chunk_live())
    svc.index.set_payload_where(
        other_live_chunks_filter(tenant, doc_id, version),
        chunk_stale(int(svc.clock().timestamp())),
    )


def sweep_stale(svc: Services, grace_s: int) -> dict[str, int]:
    """Remove chunks marked stale more than `grace_s` ago (readers ignore them already).

    Each candidate is checked against the live-version map first: a version that went live
    again (a document rewritten back to earlier content) is re-marked live, never removed.
    """
    cutoff = int(svc.clock().timestamp()) - grace_s
    where = stale_chunks_filter(cutoff)
    counts = {"removed": 0, "revived": 0}
    for _ in range(100_000):  # every pass removes or re-marks what it saw; bounded anyway
        hits, _ = svc.index.scroll(where, 256)
        if not hits:
            break
        by_tenant: dict[str, list[tuple[VectorHit, ChunkRef]]] = {}
        for hit in hits:
            ref = chunk_ref(hit.payload)
            by_tenant.setdefault(ref.tenant, []).append((hit, ref))
        for tenant, group in by_tenant.items():
            live = svc.documents.live(tenant, [r.doc_id for _, r in group])
            revived = [r for _, r in group if _is_live(live, r)]
            doomed = [h.id for h, r in group if not _is_live(live, r)]
            for doc_id, version in {(r.doc_id, r.version) for r in revived}:
                svc.index.set_payload_where(
                    version_chunks_filter(tenant, doc_id, version), chunk_live()
                )
            svc.index.delete_ids(doomed)
            counts["removed"] += len(doomed)
            counts["revived"] += len(revived)
    if counts["removed"] or counts["revived"]:
        log.info("documents.swept", grace_s=grace_s, **counts)
    return counts


def _settle_write_behind(svc: Services, tenant: str, doc_id: str) -> None:
    """Off the write-behind lag once no newer write of the document waits."""
    live = svc.documents.live(tenant, [doc_id]).get(doc_id)
    if live is None or live.pending_since is None:
        svc.usage.write_behind(tenant, doc_id, None)


def _is_live(live: dict[str, LiveVersion], chunk: ChunkRef) -> bool:
    current = live.get(chunk.doc_id)
    return current is not None and current.version == chunk.version


def get_document(svc: Services, tenant: str, doc_id: str) -> Document:
    check_id(doc_id, "doc_id")
    document = svc.documents.get(tenant, doc_id)
    if document is None:
        raise NotFound(f"document {doc_id!r} not found")
    return document


def list_documents(
    svc: Services, tenant: str, tag: str | None, status: str | None, offset: int, limit: int
) -> list[Document]:
    found = svc.documents.list(tenant, offset, limit)
    return [d for d in found if (tag is None or tag in d.tags) and (status in (None, d.status))]


def delete_document(svc: Services, tenant: str, doc_id: str) -> None:
    """Tombstone first (outranks every earlier write), then drop the document's chunks."""
    get_document(svc, tenant, doc_id)
    sequence = svc.documents.delete(tenant, doc_id)
    svc.usage.write_behind(tenant, doc_id, None)
    svc.index.delete(document_chunks_filter(tenant, doc_id))
    log.info("documents.deleted", tenant=tenant, doc_id=doc_id, sequence=sequence)


def run_ingest_job(
    svc: Services,
    job_id: str,
    tenant: str,
    doc_id: str,
    version: str,
    sequence: int,
    expires_at: int,
) -> dict[str, Any]:
    """The body of the `documents.ingest` task, with its job record kept up to date. A failed
    attempt leaves the record `running`: the task is retried, and only a final failure marks it
    `failed` (the worker's JobTask.on_failure, as for every job)."""
    svc.job_states.update(tenant, job_id, state="running", started=time.time())
    result = build_version(svc, tenant, doc_id, version, sequence, expires_at)
    counts = {k: result[k] for k in ("chunks", "embedded", "reused") if k in result}
    svc.job_states.update(
        tenant, job_id, state="done", progress=1.0, counts=counts, result=result["status"]
    )
    return result


def chunks_of(svc: Services, text: str) -> list[Chunk]:
    encoding = svc.settings.chunk_encoding
    return chunk_text(
        text,
        chunker(svc),
        lambda t: svc.tokenizer.count(t, encoding),
        lambda t, n: svc.tokenizer.split(t, n, encoding),
    )
