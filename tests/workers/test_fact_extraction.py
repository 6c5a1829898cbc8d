"""Facts learned from conversation: a real worker extracts them after indexing (source, lineage,
event time); a correction supersedes, a late older statement lands in history; a session can
turn it off; the LLM extractor speaks chat completions with a JSON schema and falls back."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from service.adapters.extractors import OpenAIExtractor, RuleExtractor
from service.domain.extraction import ExtractedFact
from service.domain.models import Fact, Message, NewMessage
from service.metrics import Metrics
from service.runtime.container import Container
from service.usecases import sessions
from service.usecases.extraction import extract_session_facts
from service.usecases.facts import list_facts
from service.usecases.seen_facts import shown_to
from service.usecases.services import Services
from tests.chat_server import Chat
from workers.app import create_worker_app
from workers.runner import WorkerRunner

DAY = datetime(2025, 3, 1, tzinfo=UTC)


def _say(svc: Services, tenant: str, session: str, *turns: tuple[str, str, int]) -> None:
    """(id, text, day offset) user turns, each answered by an assistant turn."""
    msgs: list[NewMessage] = []
    for mid, text, day in turns:
        at = DAY + timedelta(days=day)
        msgs.append(NewMessage(role="user", content=text, id=mid, created_at=at))
        msgs.append(NewMessage(role="assistant", content="I live in Oslo.", id=f"{mid}-r"))
    sessions.append_messages(svc, tenant, session, "u", msgs)


def _facts(svc: Services, tenant: str, expected: int) -> list[Fact]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = list_facts(svc, tenant, "u", 0, 100)
        if len(found) >= expected:
            return found
        time.sleep(0.05)
    raise AssertionError(f"expected {expected} facts, have {list_facts(svc, tenant, 'u', 0, 100)}")


def test_worker_learns_facts_after_indexing(container: Container, worker, tenant: str) -> None:  # type: ignore[no-untyped-def]
    svc = container.services
    _say(svc, tenant, "s", ("m1", "Hi! I live in Lisbon. Do you like jazz?", 0))
    [fact] = _facts(svc, tenant, 1)
    assert (fact.key, fact.text, fact.status) == (
        "user.location",
        "User lives in Lisbon.",
        "active",
    )
    assert (fact.source, fact.lineage, fact.valid_from) == ("extracted", ["s/m1"], DAY)
    # The assistant's "I live in Oslo." is not a statement of the user's.
    _say(svc, tenant, "s", ("m2", "Update: we moved to Porto.", 10))
    facts = {f.text: f for f in _facts(svc, tenant, 2)}
    assert facts["User lives in Porto."].status == "active"
    old = facts["User lives in Lisbon."]
    assert (old.status, old.superseded_by) == ("superseded", facts["User lives in Porto."].id)
    assert old.valid_to == DAY + timedelta(days=10)


def test_late_older_statement_lands_in_history(container: Container, tenant: str) -> None:
    svc = container.services
    _say(svc, tenant, "s", ("new", "I live in Porto.", 10), ("old", "I live in Braga.", 5))
    # Extracted one turn at a time, newest first: the older statement arrives late.
    assert extract_session_facts(svc, tenant, "s", 0, ["new"]).placed == {"current": 1}
    assert extract_session_facts(svc, tenant, "s", 0, ["old"]).placed == {"history": 1}
    facts = {f.text: f for f in list_facts(svc, tenant, "u", 0, 10)}
    porto, braga = facts["User lives in Porto."], facts["User lives in Braga."]
    assert (porto.status, braga.status) == ("active", "superseded")
    assert (braga.valid_to, braga.superseded_by) == (porto.valid_from, porto.id)
    # A job run twice stores nothing twice.
    assert extract_session_facts(svc, tenant, "s", 0, ["new", "old"]).placed == {"merged": 2}
    assert len(list_facts(svc, tenant, "u", 0, 10)) == 2


def test_sessions_that_saw_one_fact_extract_concurrently(container: Container, tenant: str) -> None:
    """Extracted writes are based on what their session last saw: b was shown Lisbon, a moved
    the user to Porto meanwhile, so b's Faro is concurrent (keep_both flags it), while a's own
    correction of its own statement is not."""
    svc = container.services
    svc.settings = svc.settings.model_copy(update={"fact_conflict_policy": "keep_both"})
    _say(svc, tenant, "a", ("a1", "I live in Lisbon.", 0))
    assert extract_session_facts(svc, tenant, "a", 0, ["a1"]).placed == {"current": 1}
    [lisbon] = list_facts(svc, tenant, "u", 0, 10)
    _say(svc, tenant, "b", ("b1", "Hello again.", 1))
    shown_to(svc, tenant, "b", "u", [lisbon])
    _say(svc, tenant, "a", ("a2", "We moved to Porto.", 5))
    _say(svc, tenant, "b", ("b2", "We moved to Faro.", 6))
    assert extract_session_facts(svc, tenant, "a", 0, ["a2"]).placed == {"current": 1}
    assert extract_session_facts(svc, tenant, "b", 0, ["b2"]).placed == {"conflict": 1}
    status = {f.text: f.status for f in list_facts(svc, tenant, "u", 0, 10)}
    assert status == {
        "User lives in Lisbon.": "superseded",
        "User lives in Porto.": "conflict",
        "User lives in Faro.": "conflict",
    }


def test_a_session_deleted_during_extraction_gets_nothing(
    container: Container, tenant: str
) -> None:
    """The session goes while its turns are being read: the job stops, writes nothing."""
    svc = container.services

    class DeletingExtractor(RuleExtractor):
        def extract(self, turns: Sequence[Message]) -> list[ExtractedFact]:
            sessions.delete_session(svc, tenant, "s")
            return super().extract(turns)

    _say(svc, tenant, "s", ("m1", "I live in Lisbon.", 0))
    svc.extractor = DeletingExtractor()
    done = extract_session_facts(svc, tenant, "s", 0, ["m1"])
    assert (done.status, done.found, done.placed) == ("skipped_deleted", 1, {})
    assert list_facts(svc, tenant, "u", 0, 10) == []


def test_session_setting_turns_extraction_off(container: Container, tenant: str) -> None:
    svc = container.services
    view = sessions.set_session_settings(svc, tenant, "s", "u", extract_facts=False)
    assert view.extract_facts is False
    _say(svc, tenant, "s", ("m1", "I live in Lisbon.", 0))
    assert extract_session_facts(svc, tenant, "s", 0, ["m1"]).status == "skipped_disabled"
    assert list_facts(svc, tenant, "u", 0, 10) == []
    assert sessions.describe_session(svc, tenant, "s").extract_facts is False


def test_deleted_session_gets_no_facts(container: Container, tenant: str) -> None:
    svc = container.services
    _say(svc, tenant, "s", ("m1", "I live in Lisbon.", 0))
    sessions.delete_session(svc, tenant, "s")
    assert extract_session_facts(svc, tenant, "s", 0, ["m1"]).status == "skipped_deleted"
    assert list_facts(svc, tenant, "u", 0, 10) == []


def _turns() -> list[Message]:
    def turn(i: int, role: str, content: str) -> Message:
        return Message("t", "s", "u", f"m{i}", i, role, content, DAY, 5)  # type: ignore[arg-type]

    return [
        turn(0, "user", "I live in Lisbon and I adore my cat Miso."),
        turn(1, "assistant", "Ok"),
    ]


def _reply(facts: Any) -> dict[str, Any]:
    return {"choices": [{"message": {"role": "assistant", "content": json.dumps(facts)}}]}


def _llm(url: str, timeout: float = 2.0) -> OpenAIExtractor:
    return OpenAIExtractor(url, "tiny-model", "sk-test", timeout, RuleExtractor())


def test_llm_extractor_speaks_chat_completions_with_a_schema(chat_server: str) -> None:
    Chat.reply = _reply(
        {"facts": [{"key": "user.pet.cat.name", "text": "User's cat is Miso.", "message_id": "m0"}]}
    )
    [fact] = _llm(chat_server).extract(_turns())
    assert (fact.key, fact.text, fact.lineage, fact.valid_from) == (
        "user.pet.cat.name",
        "User's cat is Miso.",
        ("s/m0",),
        DAY,
    )
    [request] = Chat.seen
    assert request["path"] == "/v1/chat/completions"
    assert request["auth"] == "Bearer sk-test"
    assert request["response_format"]["type"] == "json_schema"
    assert "[m0] I live in Lisbon" in request["messages"][1]["content"]
    assert "Ok" not in request["messages"][1]["content"]  # only the user's turns


@pytest.mark.parametrize(
    ("reply", "delay"),
    [
        ({"choices": []}, 0.0),  # malformed
        ({"choices": [{"message": {"content": "not json"}}]}, 0.0),
        (_reply({"facts": [{"key": "User Location", "text": "x", "message_id": "m0"}]}), 0.0),
        (_reply({"facts": [{"key": "user.location", "text": "x", "message_id": "m9"}]}), 0.0),
        (_reply({"facts": []}), 1.0),  # past the timeout
    ],
)
def test_llm_extractor_falls_back_to_the_rules(chat_server: str, reply: Any, delay: float) -> None:
    Chat.reply, Chat.delay = reply, delay
    found = _llm(chat_server, timeout=0.3).extract(_turns())
    assert found == RuleExtractor().extract(_turns())
    assert [f.key for f in found] == ["user.location"]


def test_llm_extractor_unreachable_falls_back() -> None:
    found = _llm("http://127.0.0.1:9/v1", timeout=0.3).extract(_turns())
    assert [f.text for f in found] == ["User lives in Lisbon."]


def test_a_turn_dated_ahead_of_the_clock_counts_from_now(container: Container, tenant: str) -> None:
    svc = container.services
    ahead = datetime(2999, 1, 1, tzinfo=UTC)
    msg = NewMessage(role="user", content="I live in Faro.", id="m1", created_at=ahead)
    sessions.append_messages(svc, tenant, "s", "u", [msg])
    assert extract_session_facts(svc, tenant, "s", 0, ["m1"]).placed == {"current": 1}
    [fact] = list_facts(svc, tenant, "u", 0, 10)
    assert fact.valid_from <= svc.clock()


def test_facts_past_the_quota_are_skipped_not_retried(
    container: Container, tenant: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = container.services.settings.model_copy(update={"quota_facts": 1})
    svc = dataclasses.replace(container.services, settings=settings)
    _say(svc, tenant, "s", ("m1", "I live in Lisbon.", 0), ("m2", "I am vegetarian.", 1))
    done = extract_session_facts(svc, tenant, "s", 0, ["m1", "m2"])
    # The first is stored, the second is over the quota: skipped, and the job is done.
    assert (done.status, done.found, done.placed, done.over_quota) == ("done", 2, {"current": 1}, 1)
    [kept] = list_facts(svc, tenant, "u", 0, 10)
    assert kept.lineage == ["s/m1"]
    assert "facts.skipped_over_quota" in capsys.readouterr().out
    # A correction of the stored one supersedes it: not refused.
    _say(svc, tenant, "s", ("m3", "Update: we moved to Porto.", 2))
    assert extract_session_facts(svc, tenant, "s", 0, ["m3"]).placed == {"current": 1}


def test_the_worker_counts_facts_skipped_over_the_quota(
    container: Container, tenant: str, redis_url: str
) -> None:
    settings = container.services.settings.model_copy(update={"quota_facts": 1})
    svc = dataclasses.replace(container.services, settings=settings)
    metrics = Metrics()
    runner = WorkerRunner(create_worker_app(svc, redis_url, metrics), container.heartbeat, 1)
    runner.start()
    try:
        _say(svc, tenant, "s", ("m1", "I live in Lisbon. I am vegetarian.", 0))
        deadline = time.monotonic() + 30
        while not metrics.registry.get_sample_value("cmem_facts_quota_skipped_total"):
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        runner.stop()
    # (the worker's start-up reconcile may index and extract the turn a second time)
    assert len(list_facts(svc, tenant, "u", 0, 10)) == 1
