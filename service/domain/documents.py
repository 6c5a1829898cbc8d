"""Documents: versions by content hash, sequences by write order, one live version at a time."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Policy = Literal["write_through", "write_behind", "invalidate"]
POLICIES: tuple[Policy, ...] = ("write_through", "write_behind", "invalidate")
VersionStatus = Literal["pending", "live", "stale", "failed"]


@dataclass(frozen=True, slots=True)
class LiveVersion:
    """The entry of the live-version map that readers check chunk hits against."""

    version: str
    sequence: int
    expires_at: int  # unix seconds; 0 = never
    pending_since: float | None = None  # unix seconds of a newer write not yet live

    def expired(self, now: float) -> bool:
        return 0 < self.expires_at <= now


@dataclass(frozen=True, slots=True)
class DocumentVersion:
    """One write of a document: its content version, write sequence and state."""

    version: str
    sequence: int
    status: VersionStatus
    chunks: int
    created_at: str
    live_at: str | None = None
    model: str = ""  # the embedding model its chunks are built with

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "sequence": self.sequence,
            "status": self.status,
            "chunks": self.chunks,
            "created_at": self.created_at,
            "live_at": self.live_at,
            "model": self.model,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> DocumentVersion:
        return cls(
            str(d["version"]),
            int(d["sequence"]),
            d["status"],
            int(d["chunks"]),
            str(d["created_at"]),
            d.get("live_at") or None,
            str(d.get("model") or ""),
        )


@dataclass(frozen=True, slots=True)
class Document:
    """A document's record: tags, metadata, and its recent versions (newest last)."""

    doc_id: str
    tags: list[str]
    metadata: dict[str, Any]
    versions: list[DocumentVersion] = field(default_factory=list)
    live_version: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    revision: int = 0  # bumped by every write (text, tags or metadata): the ETag

    @property
    def etag(self) -> str:
        return f'"{self.revision}"'

    @property
    def live(self) -> DocumentVersion | None:
        return next((v for v in reversed(self.versions) if v.status == "live"), None)

    @property
    def status(self) -> str:
        if self.live is not None:
            return "live"
        return "pending" if any(v.status == "pending" for v in self.versions) else "none"

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Document:
        # Lua's cjson writes an empty list as {}: read both.
        tags = d.get("tags") or []
        return cls(
            doc_id=str(d["doc_id"]),
            tags=list(tags) if isinstance(tags, list) else [],
            metadata=dict(d.get("metadata") or {}),
            versions=[DocumentVersion.from_json(v) for v in (d.get("versions") or [])],
            live_version=d.get("live_version") or None,
            created_at=d.get("created_at"),
            updated_at=d.get("updated_at"),
            revision=int(d.get("revision") or 0),
        )
