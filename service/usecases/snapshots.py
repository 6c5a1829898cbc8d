"""Replayable snapshots: re-assemble a snapshot's request as of its time and say whether the
context is the same; if not, which items differ and why. Facts replay as recorded then (their
history is versioned), so a fact superseded since still replays; `changed_since` names every item
of the snapshot that is no longer what would be served now, and why."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog

from service.domain.points import message_id_filter
from service.usecases.context import ContextRequest, assemble_context, get_snapshot
from service.usecases.services import Services

log = structlog.get_logger()

# Why an item of the snapshot is not in the replay (or the other way round).
REASONS = (
    "superseded",  # a fact replaced since (by a later statement, or a resolved conflict)
    "deleted",  # its source is gone: a deleted fact, turn or document
    "suspect",  # a fact whose source changed
    "stale_version",  # a newer version of the item serves now (fact, chunk, summary, state)
    "new",  # in the replay only: added since (a new turn, fact, chunk)
    "outranked",  # still there and current, but other items won the budget
    "content_changed",  # same items, different rendering (e.g. working memory edited)
)


@dataclass(frozen=True, slots=True)
class Verification:
    """A replay's verdict: the hashes, and each difference with its reason."""

    snapshot_id: str
    verified: bool
    context_hash: str
    replayed_hash: str
    differences: list[dict[str, Any]] = field(default_factory=list)
    changed_since: list[dict[str, Any]] = field(default_factory=list)


def verify_snapshot(svc: Services, tenant: str, snapshot_id: str) -> Verification:
    """Assemble the snapshot's request again, facts as recorded at its time (`known_at`),
    without keeping a new snapshot; compare hashes and items."""
    snap = get_snapshot(svc, tenant, snapshot_id)
    created = datetime.fromisoformat(str(snap["created_at"]))
    fields = {f.name for f in dataclasses.fields(ContextRequest)}
    request = {k: v for k, v in dict(snap["request"]).items() if k in fields}
    for name in ("as_of", "known_at"):
        if isinstance(request.get(name), str):
            request[name] = datetime.fromisoformat(request[name])
    request["known_at"] = request.get("known_at") or created
    replay = assemble_context(svc, tenant, ContextRequest(**request), record=False)
    old, new = _items(snap["items"]), _items(replay.items)
    session_id = str(request["session_id"])
    now = {key: _changed(svc, tenant, session_id, item) for key, item in old.items()}
    changed_since = [
        {**item, "reason": reason} for key, item in old.items() if (reason := now[key])
    ]
    differences = [
        {**item, "change": "removed", "reason": now[key] or "outranked"}
        for key, item in old.items()
        if key not in new
    ]
    differences += [
        {**item, "change": "added", "reason": "new"} for key, item in new.items() if key not in old
    ]
    verified = replay.context_hash == snap["context_hash"]
    if not verified and not differences:
        differences.append({"kind": "context", "change": "changed", "reason": "content_changed"})
    log.info("snapshots.verified", tenant=tenant, snapshot_id=snapshot_id, verified=verified)
    return Verification(
        snapshot_id,
        verified,
        str(snap["context_hash"]),
        replay.context_hash,
        differences,
        changed_since,
    )


def _items(items: list[dict[str, Any]]) -> dict[tuple[str, str, str], dict[str, Any]]:
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    for item in items:
        ident = {"kind": str(item["kind"]), "id": str(item["id"])}
        if item.get("version") is not None:
            ident["version"] = str(item["version"])
        if item.get("doc_id") is not None:
            ident["doc_id"] = str(item["doc_id"])
        # A fact's record version moves with its status (superseded, resolved): the same
        # statement. A chunk's id repeats across document versions: its version tells them apart.
        version = "" if ident["kind"] == "fact" else ident.get("version", "")
        out[(ident["kind"], ident["id"], version)] = ident
    return out


def _changed(svc: Services, tenant: str, session_id: str, item: dict[str, Any]) -> str | None:
    """What became of a snapshot's item since (None: it is still current)."""
    kind, item_id, version = item["kind"], item["id"], item.get("version")
    if kind == "fact":
        fact = svc.facts.get(tenant, item_id)
        if fact is None or fact.status == "deleted":
            return "deleted"
        if fact.status in ("superseded", "suspect"):
            return fact.status
        return "stale_version" if version and str(fact.version) != version else None
    if kind == "chunk":
        doc_id = str(item.get("doc_id", ""))
        live = svc.documents.live(tenant, [doc_id]).get(doc_id)
        if live is None or not live.version:
            return "deleted"
        return "stale_version" if live.version != version else None
    if kind == "message":
        [turn] = svc.sessions.by_ids(tenant, session_id, [item_id])
        # Trimmed, or recalled from another session: its recall vector says it is still there.
        there = turn is not None or svc.index.count(message_id_filter(tenant, item_id)) > 0
        return None if there else "deleted"
    if kind == "summary" and version is not None:  # the gist (a topic piece has no version)
        summary = svc.summaries.get(tenant, session_id)
        return None if summary is not None and str(summary.version) == version else "stale_version"
    return None
