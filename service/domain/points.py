"""Vector points: ids, payloads, scopes, indexed fields and filters, in one place.

Every point the service writes is built here and every stored payload is read back here, so the
payload schema has one owner. Ids are uuid5 per kind: points keep their ids across releases, so
the namespaces and name strings below never change (a change orphans every stored point).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from service.domain.chunking import Chunk
from service.domain.models import Fact, Message, VectorFilter
from service.domain.summaries import SummaryPiece

_MESSAGES = uuid.UUID("6f1d2a8e-4c1b-4f0e-9a7d-3b5c2e1f0a9d")
_FACTS = uuid.UUID("0b7f3c55-2f64-4d8c-8a57-5d0f9e6c1b42")
_CHUNKS = uuid.UUID("3c1f6f0e-8a7b-4d55-9d3e-2a6b1f0c9e71")
_SEGMENTS = uuid.UUID("8d2e4b71-5a3c-4f19-b6e0-71c9a2d4e85f")

# The payload fields every vector store indexes (what filters and lookups go by).
KEYWORD_FIELDS = (
    "kind",
    "user_id",
    "session_id",
    "message_id",  # trimmed turns are fetched by id for recall
    "status",
    "doc_id",
    "version",
    "tags",
    "scope",  # one session epoch's turns, one user's facts of a status: reads filter on it alone
)
INTEGER_FIELDS = ("epoch", "stale_at")


# Ids: deterministic, so re-running a job overwrites its points, never duplicates them.


def message_point_id(tenant: str, session_id: str, epoch: int, message_id: str) -> str:
    return str(uuid.uuid5(_MESSAGES, f"{tenant}/message/{session_id}/{epoch}/{message_id}"))


def fact_point_id(tenant: str, fact_id: str) -> str:
    return str(uuid.uuid5(_FACTS, f"{tenant}/fact/{fact_id}"))


def chunk_point_id(tenant: str, doc_id: str, version: str, index: int) -> str:
    """uuid5(tenant, doc_id, version, index): re-running a build overwrites, never duplicates."""
    return str(uuid.uuid5(_CHUNKS, f"{tenant}/chunk/{doc_id}/{version}/{index}"))


def segment_point_id(tenant: str, session_id: str, epoch: int, first_seq: int) -> str:
    """A topic piece of a session's summary: its epoch and the first turn it covers."""
    return str(uuid.uuid5(_SEGMENTS, f"{tenant}/segment/{session_id}/{epoch}/{first_seq}"))


# Scopes: one indexed keyword per hot read. A search with several conditions checks each on
# every point (several times slower on a freshly written segment). Ids (tenants too) hold no
# "/", so every value is unambiguous.


def session_scope(tenant: str, session_id: str, epoch: int) -> str:
    """The `scope` of one epoch of a session's turns (recall filters on it alone)."""
    return f"{tenant}/session/{session_id}/{epoch}"


def summary_scope(tenant: str, session_id: str, epoch: int) -> str:
    """The `scope` of one epoch of a session's summary pieces (searched apart from turns)."""
    return f"{tenant}/summary/{session_id}/{epoch}"


def facts_scope(tenant: str, user_id: str, status: str) -> str:
    """The `scope` of a user's facts of one status (context reads the active ones by it)."""
    return f"{tenant}/facts/{user_id}/{status}"


def scope_of(payload: dict[str, Any]) -> str:
    """The `scope` a turn's or fact's payload belongs in (for points written before it)."""
    tenant = str(payload["tenant"])
    if payload["kind"] == "message":
        return session_scope(tenant, str(payload["session_id"]), int(payload["epoch"]))
    if payload["kind"] == "segment":
        return summary_scope(tenant, str(payload["session_id"]), int(payload["epoch"]))
    return facts_scope(tenant, str(payload["user_id"]), str(payload["status"]))


def with_scope(scope: str) -> dict[str, Any]:
    return {"scope": scope}


# Payloads written.


def message_payload(m: Message, epoch: int, indexed_at: int) -> dict[str, Any]:
    """A turn's point: what recall filters and checks by, and the turn itself."""
    return {
        "tenant": m.tenant,
        "kind": "message",
        "session_id": m.session_id,
        "user_id": m.user_id,
        "message_id": m.id,
        "epoch": epoch,
        "scope": session_scope(m.tenant, m.session_id, epoch),
        "seq": m.seq,
        "role": m.role,
        "created_at": int(m.created_at.timestamp()),
        "indexed_at": indexed_at,  # an operator invalidation cutoff hides older vectors
        # The turn itself: recall serves it from here once the log has trimmed it.
        "content": m.content,
        "name": m.name,
        "tokens": m.tokens,
        "enc": m.tokens_encoding,
    }


def segment_payload(
    tenant: str, user_id: str, piece: SummaryPiece, epoch: int, indexed_at: int
) -> dict[str, Any]:
    """A topic piece's point: in its session's summary scope."""
    return {
        "tenant": tenant,
        "kind": "segment",
        "session_id": piece.session_id,
        "user_id": user_id,
        "epoch": epoch,
        "scope": summary_scope(tenant, piece.session_id, epoch),
        "first_seq": piece.first_seq,
        "last_seq": piece.last_seq,
        "first_id": piece.first_id,
        "last_id": piece.last_id,
        "version": piece.version,
        "started_at": int(piece.started_at.timestamp()),
        "ended_at": int(piece.ended_at.timestamp()),
        "indexed_at": indexed_at,  # an operator invalidation cutoff hides older vectors
        "content": piece.text,
    }


def piece_from_payload(p: dict[str, Any]) -> tuple[SummaryPiece, int]:
    """A topic piece and its `indexed_at`, from its point's payload."""
    piece = SummaryPiece(
        session_id=str(p.get("session_id")),
        text=str(p.get("content") or ""),
        first_id=str(p.get("first_id")),
        last_id=str(p.get("last_id")),
        first_seq=int(p.get("first_seq", -1)),
        last_seq=int(p.get("last_seq", -1)),
        version=int(p.get("version", 0)),
        started_at=datetime.fromtimestamp(int(p.get("started_at") or 0), UTC),
        ended_at=datetime.fromtimestamp(int(p.get("ended_at") or 0), UTC),
    )
    return piece, int(p.get("indexed_at") or 0)


def searchable_text(m: Message) -> str:
    """What a turn's exact terms are: its text and its speaker's name ("what did Tom cook?"
    names the speaker, whose turns rarely name themselves)."""
    return f"{m.name} {m.content}" if m.name else m.content


def fact_payload(fact: Fact, embedded_at: int) -> dict[str, Any]:
    """A fact's point: ids and status only; the record holds the text and is the truth."""
    payload: dict[str, Any] = {
        "tenant": fact.tenant,
        "kind": "fact",
        "user_id": fact.user_id,
        "fact_id": fact.id,
        "status": fact.status,
        "scope": facts_scope(fact.tenant, fact.user_id, fact.status),
        "embedded_at": embedded_at,  # an operator invalidation cutoff hides older vectors
    }
    if fact.key is not None:
        payload["key"] = fact.key
    return payload


def fact_status(tenant: str, user_id: str, status: str) -> dict[str, Any]:
    """The fields a fact's point changes when its record changes status."""
    return {"status": status, "scope": facts_scope(tenant, user_id, status)}


def chunk_payload(
    tenant: str,
    doc_id: str,
    version: str,
    chunk: Chunk,
    tags: list[str],
    expires_at: int,
    model: str,
    status: str = "pending",
) -> dict[str, Any]:
    """A document chunk's point; it is served only while `version` is the document's live one."""
    return {
        "tenant": tenant,
        "kind": "chunk",
        "doc_id": doc_id,
        "version": version,
        "chunk": chunk.index,
        "text": chunk.text,
        "content_hash": chunk.content_hash,
        "status": status,
        "tags": tags,
        "expires_at": expires_at,
        "model": model,
    }


def chunk_live() -> dict[str, Any]:
    return {"status": "live"}


def chunk_stale(at: int) -> dict[str, Any]:
    """`stale_at`: when the sweep may remove it (after a grace period)."""
    return {"status": "stale", "stale_at": at}


# Payloads read.


@dataclass(frozen=True, slots=True)
class MessageRef:
    """What recall checks a turn's point by."""

    session_id: str
    message_id: str
    epoch: int
    seq: int
    indexed_at: int
    content: str


@dataclass(frozen=True, slots=True)
class FactRef:
    """What a fact's point says about its record."""

    fact_id: str
    user_id: str
    embedded_at: int


@dataclass(frozen=True, slots=True)
class ChunkRef:
    """A chunk's point: which document version it belongs to, and its text."""

    tenant: str
    doc_id: str
    version: str
    chunk: int
    text: str


def message_ref(p: dict[str, Any]) -> MessageRef:
    return MessageRef(
        session_id=str(p.get("session_id")),
        message_id=str(p.get("message_id", "")),
        epoch=int(p.get("epoch", -1)),
        seq=int(p.get("seq", -1)),
        indexed_at=int(p.get("indexed_at") or 0),
        content=str(p.get("content") or ""),
    )


def fact_ref(p: dict[str, Any]) -> FactRef:
    return FactRef(
        fact_id=str(p.get("fact_id", "")),
        user_id=str(p.get("user_id")),
        embedded_at=int(p.get("embedded_at") or 0),
    )


def chunk_ref(p: dict[str, Any]) -> ChunkRef:
    return ChunkRef(
        tenant=str(p.get("tenant")),
        doc_id=str(p.get("doc_id")),
        version=str(p.get("version")),
        chunk=int(p.get("chunk", -1)),
        text=str(p.get("text", "")),
    )


def message_from_payload(tenant: str, p: dict[str, Any]) -> Message | None:
    """A trimmed turn, from its recall vector's payload (None for a point without the text)."""
    if "content" not in p:
        return None
    return Message(
        tenant=tenant,
        session_id=str(p["session_id"]),
        user_id=str(p["user_id"]),
        id=str(p["message_id"]),
        seq=int(p["seq"]),
        role=p["role"],
        content=str(p["content"]),
        created_at=datetime.fromtimestamp(int(p["created_at"]), UTC),
        tokens=int(p.get("tokens") or 0),
        name=p.get("name"),
        tokens_encoding=str(p.get("enc") or ""),
    )


# Filters.


def session_recall_filter(tenant: str, session_id: str, epoch: int) -> VectorFilter:
    """The turns of one epoch of a session: recall's hot read, by scope alone."""
    return VectorFilter(must={"scope": session_scope(tenant, session_id, epoch)})


def summary_scope_filter(tenant: str, session_id: str, epoch: int) -> VectorFilter:
    """The summary pieces of one epoch of a session, by scope alone."""
    return VectorFilter(must={"scope": summary_scope(tenant, session_id, epoch)})


def user_recall_filter(tenant: str, user_id: str) -> VectorFilter:
    """The turns of all of a user's sessions (each hit's epoch is checked by the reader)."""
    return VectorFilter(must={"tenant": tenant, "kind": "message", "user_id": user_id})


def session_turns_filter(tenant: str, session_id: str) -> VectorFilter:
    """Every turn of a session, whatever its epoch."""
    return VectorFilter(must={"tenant": tenant, "kind": "message", "session_id": session_id})


def session_pieces_filter(tenant: str, session_id: str) -> VectorFilter:
    """Every summary piece of a session, whatever its epoch."""
    return VectorFilter(must={"tenant": tenant, "kind": "segment", "session_id": session_id})


def older_epochs_filter(tenant: str, session_id: str, epoch: int) -> VectorFilter:
    """A session's points from before `epoch` (a deleted session's)."""
    return VectorFilter(must={"tenant": tenant, "session_id": session_id}, below={"epoch": epoch})


def message_id_filter(tenant: str, message_id: str) -> VectorFilter:
    """A turn's recall vector by its id, whichever session (a snapshot replay's lookup)."""
    return VectorFilter(must={"tenant": tenant, "kind": "message", "message_id": message_id})


def user_points_filter(tenant: str, user_id: str) -> VectorFilter:
    """Every point carrying the user's id (turns, facts), whatever its kind or status."""
    return VectorFilter(must={"tenant": tenant, "user_id": user_id})


def facts_filter(tenant: str, user_id: str) -> VectorFilter:
    """A user's current facts: active, or in an unresolved conflict (served with a marker)."""
    scopes = [facts_scope(tenant, user_id, s) for s in ("active", "conflict")]
    return VectorFilter(must={"scope": scopes})


def tenant_facts_filter(tenant: str) -> VectorFilter:
    """Every user's current facts in a tenant (three conditions, not one scope: slower on a
    freshly written segment; for searches that name no user)."""
    return VectorFilter(must={"tenant": tenant, "kind": "fact", "status": ["active", "conflict"]})


def facts_by_id_filter(tenant: str, user_id: str, fact_ids: list[str]) -> VectorFilter:
    """These facts of a user, current or in history (a view of the past: `as_of`)."""
    scopes = [facts_scope(tenant, user_id, s) for s in ("active", "superseded", "conflict")]
    return VectorFilter(must={"scope": scopes, "fact_id": fact_ids})


def chunk_filter(
    tenant: str, tags: list[str] | None = None, doc_ids: list[str] | None = None
) -> VectorFilter:
    """A tenant's chunks, of documents with any of `tags` and among `doc_ids` when given."""
    must: dict[str, str | int | list[str]] = {"tenant": tenant, "kind": "chunk"}
    if tags:
        must["tags"] = tags
    if doc_ids:
        must["doc_id"] = doc_ids
    return VectorFilter(must=must)


def document_chunks_filter(tenant: str, doc_id: str, keep: str | None = None) -> VectorFilter:
    """A document's chunks, but those of version `keep`."""
    return VectorFilter(
        must={"tenant": tenant, "kind": "chunk", "doc_id": doc_id},
        must_not={"version": keep} if keep else {},
    )


def version_chunks_filter(tenant: str, doc_id: str, version: str) -> VectorFilter:
    return VectorFilter(
        must={"tenant": tenant, "kind": "chunk", "doc_id": doc_id, "version": version}
    )


def other_live_chunks_filter(tenant: str, doc_id: str, version: str) -> VectorFilter:
    """A document's chunks still marked live that belong to a version other than `version`."""
    return VectorFilter(
        must={"tenant": tenant, "kind": "chunk", "doc_id": doc_id, "status": "live"},
        must_not={"version": version},
    )


def stale_chunks_filter(before: int) -> VectorFilter:
    """Chunks of every tenant marked stale before `before` (unix seconds)."""
    return VectorFilter(must={"kind": "chunk", "status": "stale"}, below={"stale_at": before})


POINT_KINDS = ("message", "segment", "fact", "chunk")


def kind_filter(kind: str) -> VectorFilter:
    """Every tenant's points of one kind (operator gauges)."""
    return VectorFilter(must={"kind": kind})


def unscoped_filter() -> VectorFilter:
    """Turns and facts written before the `scope` field existed."""
    return VectorFilter(must={"kind": ["message", "fact"]}, missing=("scope",))
