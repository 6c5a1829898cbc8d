"""Lineage cascades: when a turn a fact came from is deleted (or its whole session), the fact is
`suspect` before the call returns (not served; context excludes it as `suspect`), and a job
re-derives it from what is left of its sources or retires it."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import structlog

from service.domain.errors import NotFound, QuotaExceeded, StoreUnavailable
from service.domain.facts import message_source, source_session, supersedes
from service.domain.models import Fact, Message, VectorPoint
from service.domain.points import (
    fact_point_id,
    fact_status,
    message_from_payload,
    message_point_id,
    searchable_text,
)
from service.domain.sparse import SHORT_TEXT, encode_turn
from service.domain.validation import check_id
from service.tasks import REBUILD_SUMMARY, REDERIVE_FACTS
from service.usecases.embedding import embed_cached
from service.usecases.facts import (
    HISTORY_LIMIT,
    WRITE_ATTEMPTS,
    remember_fact,
    skipped_over_quota,
)
from service.usecases.services import Services
from service.usecases.turns import turns_from_index

log = structlog.get_logger()


@dataclass(frozen=True, slots=True)
class Rederived:
    """What a re-derivation did: facts retired, re-derived anew, and history made current."""

    retired: list[str]
    rederived: list[str]
    promoted: list[str]
    over_quota: int = 0  # re-derived statements not stored: the tenant's facts quota was full


def delete_message(svc: Services, tenant: str, session_id: str, message_id: str) -> list[str]:
    """Delete one turn: its body, its recall vector; the facts derived from it are suspect on
    return (their re-derivation and the summary's rebuild are queued). Returns the suspect ids."""
    check_id(session_id, "session_id")
    check_id(message_id, "message_id")
    info = svc.sessions.info(tenant, session_id)
    if info is None:
        raise NotFound(f"session {session_id!r} not found")
    # The turn's place, to tell whether the summary covered it (a trimmed turn: from its vector).
    [turn] = svc.sessions.by_ids(tenant, session_id, [message_id]) or [None]
    if turn is None:
        found = turns_from_index(svc, tenant, session_id, info.epoch, {message_id})
        turn = found[0] if found else None
    # The turn after it holds its words in its sparse vector (a reply is found by them).
    near = [i for i, _ in svc.sessions.around(tenant, session_id, [turn.seq], 1)] if turn else []
    after = near[near.index(message_id) + 1 :][:1] if message_id in near else []
    deleted = svc.sessions.delete_message(tenant, session_id, message_id)
    if deleted is None:
        raise NotFound(f"message {message_id!r} not found in session {session_id!r}")
    if deleted:  # False: a trimmed turn's tombstone already (it stays counted with its session)
        svc.quotas.release(tenant, "messages", 1)
    svc.index.delete_ids([message_point_id(tenant, session_id, info.epoch, message_id)])
    for next_id in after:
        _forget_turn_before(svc, tenant, session_id, info.epoch, next_id)
    suspect = cascade(svc, tenant, [message_source(session_id, message_id)])
    summary = svc.summaries.get(tenant, session_id)
    if turn is not None and summary is not None and turn.seq <= summary.last_seq:
        job = {"tenant": tenant, "session_id": session_id, "epoch": info.epoch, "seq": turn.seq}
        _enqueue(svc, REBUILD_SUMMARY, job)
    log.info(
        "messages.deleted", tenant=tenant, session_id=session_id, message_id=message_id,
        suspect=len(suspect),
    )  # fmt: skip
    return suspect


def _forget_turn_before(
    svc: Services, tenant: str, session_id: str, epoch: int, after: str
) -> None:
    """Index the turn `after` again with its own words only: the turn before it was deleted,
    and its sparse vector held that turn's words. Same point, payload (`indexed_at` included:
    an invalidation still hides it) and vector (from the embedding cache); nothing if it is
    not indexed yet (indexed later, it finds no turn before it)."""
    point_id = message_point_id(tenant, session_id, epoch, after)
    hits = svc.index.retrieve([point_id])
    turn = message_from_payload(tenant, hits[0].payload) if hits else None
    if turn is None:
        return
    [vector], _ = embed_cached(svc, tenant, [searchable_text(turn)])
    sparse = encode_turn(turn.name, turn.content, SHORT_TEXT)
    svc.index.upsert([VectorPoint(point_id, vector, hits[0].payload, sparse)])


def cascade(svc: Services, tenant: str, sources: Sequence[str]) -> list[str]:
    """Mark every fact derived from `sources` (turns `session/message`, or whole sessions)
    suspect now, and queue their re-derivation."""
    ids = sorted({i for s in sources for i in svc.facts.derived_from(tenant, s)})
    suspect = [i for i in ids if _mark_suspect(svc, tenant, i)]
    if suspect:
        _enqueue(svc, REDERIVE_FACTS, {"tenant": tenant, "fact_ids": suspect})
    return suspect


def _enqueue(svc: Services, task: str, message: dict[str, object]) -> None:
    try:
        svc.jobs.enqueue(task, message)
    except StoreUnavailable:
        # The facts are suspect already (never served); the job is what a retry would redo.
        log.warning("lineage.enqueue_failed", task=task, **message)


def _mark_suspect(svc: Services, tenant: str, fact_id: str) -> bool:
    """Suspect: not served from now on; a key it held is free for other writes."""
    for _ in range(WRITE_ATTEMPTS):
        fact = svc.facts.get(tenant, fact_id)
        if fact is None or fact.status in ("suspect", "deleted"):
            return False
        suspect = dataclasses.replace(fact, status="suspect", version=fact.version + 1)
        # The point keeps its scope: a context that finds it excludes it as `suspect`.
        if svc.facts.replace(suspect, fact.version, free_slot=True):
            return True
    return False


def rederive_facts(svc: Services, tenant: str, fact_ids: Sequence[str]) -> Rederived:
    """Each suspect fact: re-extracted from the sources it has left (on its key), or retired;
    a key left without a current fact gets its latest statement in history back. Idempotent."""
    retired: list[str] = []
    rederived: list[str] = []
    promoted: list[str] = []
    over_quota = 0
    for fact in svc.facts.get_many(tenant, list(fact_ids)):
        if fact is None or fact.status != "suspect":
            continue
        turns = _remaining_turns(svc, tenant, fact.lineage)
        found = [f for f in svc.extractor.extract(turns) if f.key == fact.key] if turns else []
        _retire(svc, fact)
        retired.append(fact.id)
        for extracted in found:
            try:
                done = remember_fact(
                    svc, tenant, fact.user_id, extracted.text, extracted.key,
                    source="extracted", lineage=extracted.lineage,
                    valid_from=min(extracted.valid_from, svc.clock()),
                )  # fmt: skip
            except QuotaExceeded as exc:
                skipped_over_quota(tenant, extracted.key, extracted.lineage, exc)
                over_quota += 1
                continue
            rederived.append(done.fact.id)
        if fact.key and not found and fact.superseded_by is None:
            back = _promote_history(svc, fact)
            promoted += [back] if back else []
    log.info(
        "facts.rederived", tenant=tenant, retired=retired, rederived=rederived, promoted=promoted,
        over_quota=over_quota,
    )  # fmt: skip
    return Rederived(retired, rederived, promoted, over_quota)


def _remaining_turns(svc: Services, tenant: str, lineage: Sequence[str]) -> list[Message]:
    turns: list[Message] = []
    for source in lineage:
        session_id = source_session(source)
        if session_id is None:
            continue
        message_id = source.split("/", 1)[1]
        info = svc.sessions.info(tenant, session_id)
        if info is None:
            continue
        [turn] = svc.sessions.by_ids(tenant, session_id, [message_id])
        if turn is not None:
            turns.append(turn)
        else:  # trimmed (its recall vector holds it) or deleted (its vector is gone)
            turns += turns_from_index(svc, tenant, session_id, info.epoch, {message_id})
    return turns


def _retire(svc: Services, fact: Fact) -> None:
    for _ in range(WRITE_ATTEMPTS):
        current = svc.facts.get(fact.tenant, fact.id)
        if current is None or current.status == "deleted":
            break
        gone = dataclasses.replace(current, status="deleted", version=current.version + 1)
        if svc.facts.delete(gone, expected_version=current.version):
            break
    svc.index.delete_ids([fact_point_id(fact.tenant, fact.id)])


def _promote_history(svc: Services, retired: Fact) -> str | None:
    """The key's latest statement in history becomes current again (if the key is free)."""
    if retired.key is None or svc.facts.active_for_key(
        retired.tenant, retired.user_id, retired.key
    ):
        return None
    history = [
        f
        for f in svc.facts.list_for_user(retired.tenant, retired.user_id, 0, HISTORY_LIMIT)
        if f.key == retired.key and f.status == "superseded"
    ]
    if not history:
        return None
    latest = history[0]
    for f in history[1:]:
        latest = f if supersedes(f, latest) else latest
    back = dataclasses.replace(
        latest, status="active", superseded_by=None, valid_to=None, version=latest.version + 1
    )
    if not svc.facts.replace(back, latest.version, claim_slot=True):
        return None
    svc.index.set_payload(
        [fact_point_id(back.tenant, back.id)], fact_status(back.tenant, back.user_id, "active")
    )
    return back.id
