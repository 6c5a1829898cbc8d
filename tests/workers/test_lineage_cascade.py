"""Lineage cascades: deleting a turn (or its session) makes the facts derived from it suspect
before the call returns, never served again; a job retires them (the key's earlier statement
comes back) and a summary that covered the turn is rebuilt without it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from service.domain.errors import NotFound
from service.domain.models import NewMessage, VectorFilter, VectorQuery
from service.domain.points import message_point_id
from service.domain.sparse import encode_query
from service.runtime.container import Container, build_container
from service.usecases import sessions
from service.usecases.compaction import compact_session, rebuild_summary
from service.usecases.context import ContextRequest, assemble_context
from service.usecases.extraction import extract_session_facts
from service.usecases.facts import list_facts
from service.usecases.indexing import index_messages
from service.usecases.lineage import delete_message, rederive_facts
from service.usecases.services import Services

DAY = datetime(2025, 3, 1, tzinfo=UTC)


def _say(svc: Services, tenant: str, session: str, *turns: tuple[str, str, int]) -> None:
    msgs = [
        NewMessage(role="user", content=text, id=mid, created_at=DAY + timedelta(days=day))
        for mid, text, day in turns
    ]
    sessions.append_messages(svc, tenant, session, "u", msgs)
    info = svc.sessions.info(tenant, session)
    assert info is not None
    ids = [m for m, _, _ in turns]
    index_messages(svc, tenant, session, info.epoch, ids)
    extract_session_facts(svc, tenant, session, info.epoch, ids)


def _statuses(svc: Services, tenant: str) -> dict[str, str]:
    return {f.text: f.status for f in list_facts(svc, tenant, "u", 0, 100)}


def _served(svc: Services, tenant: str) -> tuple[str, list[dict[str, str]]]:
    ctx = assemble_context(
        svc, tenant, ContextRequest("other", "u", 800, query="where does the user live")
    )
    text = " ".join(str(m["content"]) for m in ctx.messages)
    return text, [dict(e) for e in ctx.excluded if e["kind"] == "fact"]


def test_deleting_a_turn_makes_its_facts_suspect_then_history_returns(
    container: Container, tenant: str
) -> None:
    svc = container.services
    _say(svc, tenant, "s", ("m1", "I live in Lisbon.", 0), ("m2", "We moved to Porto.", 5))
    assert _statuses(svc, tenant) == {
        "User lives in Lisbon.": "superseded",
        "User lives in Porto.": "active",
    }
    [suspect] = delete_message(svc, tenant, "s", "m2")
    # On return: suspect, not served, excluded for what it is.
    assert _statuses(svc, tenant)["User lives in Porto."] == "suspect"
    text, excluded = _served(svc, tenant)
    assert "Porto" not in text
    assert {"kind": "fact", "id": suspect, "reason": "suspect"} in excluded
    assert [m.id for m in svc.sessions.messages(tenant, "s", 0, -1)] == ["m1"]
    # The job: nothing is left to derive it from, so it is retired; Lisbon is current again.
    done = rederive_facts(svc, tenant, [suspect])
    assert done.retired == [suspect]
    assert _statuses(svc, tenant) == {"User lives in Lisbon.": "active"}
    text, _ = _served(svc, tenant)
    assert "Lisbon" in text
    assert rederive_facts(svc, tenant, [suspect]).retired == []  # idempotent
    # Deletes win: the same id appended again is a duplicate, not a resurrection.
    again = sessions.append_messages(
        svc, tenant, "s", "u", [NewMessage(role="user", content="We moved to Porto.", id="m2")]
    )
    assert again.duplicates == 1
    with pytest.raises(NotFound):
        delete_message(svc, tenant, "s", "nope")


def test_deleting_a_session_makes_its_facts_suspect(container: Container, tenant: str) -> None:
    svc = container.services
    _say(svc, tenant, "a", ("m1", "I live in Lisbon.", 0))
    _say(svc, tenant, "b", ("m1", "I'm vegan.", 1))  # same message id, another session
    sessions.delete_session(svc, tenant, "a")
    assert _statuses(svc, tenant) == {
        "User lives in Lisbon.": "suspect",
        "User is vegan.": "active",
    }
    assert "Lisbon" not in _served(svc, tenant)[0]
    suspect = [f.id for f in list_facts(svc, tenant, "u", 0, 10) if f.status == "suspect"]
    rederive_facts(svc, tenant, suspect)
    assert _statuses(svc, tenant) == {"User is vegan.": "active"}


def test_a_summary_that_covered_a_deleted_turn_is_rebuilt_without_it(
    container: Container,
    tenant: str,
    settings,
    redis_url,
    tokenizer,  # type: ignore[no-untyped-def]
) -> None:
    small = settings.model_copy(
        update={
            "summary_window_tokens": 80,
            "summary_threshold_tokens": 40,
            "summary_target_tokens": 200,
        }
    )
    built = build_container(
        small, redis_url, container.services.embedder, container.services.index, tokenizer
    )
    svc = built.services
    secrets = [f"Turn {i}: the locker code is {1000 + i}." for i in range(12)]
    msgs = [NewMessage(role="user", content=t, id=f"m{i}") for i, t in enumerate(secrets)]
    sessions.append_messages(svc, tenant, "s", "u", msgs)
    index_messages(svc, tenant, "s", 0, [f"m{i}" for i in range(12)])
    compact_session(svc, tenant, "s", 0)
    summary = svc.summaries.get(tenant, "s")
    assert summary is not None
    assert summary.last_seq >= 1
    assert "1001" in summary.text
    delete_message(svc, tenant, "s", "m1")
    assert rebuild_summary(svc, tenant, "s", 0, 1)["status"] == "rebuilt"
    rebuilt = svc.summaries.get(tenant, "s")
    assert rebuilt is not None
    assert rebuilt.version == summary.version + 1
    assert "1001" not in rebuilt.text
    assert "1000" in rebuilt.text  # the rest is still summarized
    built.redis.close()


def test_a_deleted_turns_words_leave_the_turn_after_it(container: Container, tenant: str) -> None:
    """A turn's sparse vector holds the words of the turn before it (a reply is found by
    them): once that turn is deleted, its words find nothing any more."""
    svc = container.services
    _say(
        svc,
        tenant,
        "s",
        ("m1", "My locker code at Zanzibar gym is 4471.", 0),
        ("m2", "Noted, I will keep it safe.", 0),
        ("m3", "Anything else today?", 0),
    )
    where = VectorFilter(must={"tenant": tenant, "kind": "message", "session_id": "s"})

    def found(words: str) -> list[str]:
        [hits] = svc.index.query_batch([VectorQuery((), where, 10, encode_query(words))])
        return [str(h.payload["message_id"]) for h in hits]

    assert found("Zanzibar 4471") == ["m1", "m2"]  # the reply, by the words it answers
    before = svc.index.retrieve(_point_ids(svc, tenant, "m2"))[0].payload
    delete_message(svc, tenant, "s", "m1")
    assert found("Zanzibar 4471") == []
    assert found("keep safe") == ["m2", "m3"]  # its own words (m3 holds them at a share)
    after = svc.index.retrieve(_point_ids(svc, tenant, "m2"))[0].payload
    assert after == before  # the same point: payload and invalidation time kept


def _point_ids(svc: Services, tenant: str, message_id: str) -> list[str]:
    info = svc.sessions.info(tenant, "s")
    assert info is not None
    return [message_point_id(tenant, "s", info.epoch, message_id)]
