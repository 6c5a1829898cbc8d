"""Rolling summaries: no message lost or double-counted under racing compactions and concurrent
appends; the summary enters the context with its covered range; deletion wins; the LLM
summarizer speaks the OpenAI protocol and falls back to the extractive one."""

from __future__ import annotations

import dataclasses
import itertools
import random
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from service.adapters.hashing_embedder import HashingEmbedder
from service.adapters.summarizers import ExtractiveSummarizer, OpenAISummarizer
from service.adapters.tiktoken_tokenizer import TiktokenTokenizer
from service.domain.errors import Conflict, InvalidInput
from service.domain.models import NewMessage, VectorFilter, VectorQuery
from service.domain.points import session_recall_filter
from service.domain.sparse import encode_query
from service.domain.summaries import Summary
from service.runtime.container import Container, build_container
from service.settings import Settings
from service.usecases import recall, sessions
from service.usecases.admin import run_invalidation
from service.usecases.compaction import compact_session
from service.usecases.context import ContextRequest, assemble_context
from service.usecases.indexing import index_messages
from service.usecases.services import Services
from tests.chat_server import Chat as _Chat

SMALL = {
    "summary_window_tokens": 80,
    "summary_threshold_tokens": 40,
    "summary_target_tokens": 120,
}


@pytest.fixture
def small(
    container: Container, settings: Settings, redis_url: str, tokenizer: TiktokenTokenizer
) -> Iterator[Services]:
    """The test's stores, with a small window so that a few turns trigger compaction."""
    built = build_container(
        settings.model_copy(update=SMALL),
        redis_url,
        HashingEmbedder(),
        container.services.index,
        tokenizer,
    )
    yield built.services
    built.redis.close()


def _append(svc: Services, n: int, start: int) -> list[str]:
    msgs = [
        NewMessage(role="user", content=f"Turn {i}: Ana paid {i * 3} euros on day {i}.", id=f"m{i}")
        for i in range(start, start + n)
    ]
    return sessions.append_messages(svc, "acme", "s", "u", msgs).new_ids


def _index_all(svc: Services) -> None:
    info = svc.sessions.info("acme", "s")
    assert info is not None
    pending = sorted(svc.sessions.pending_ids("acme", "s"))
    if pending:
        index_messages(svc, "acme", "s", info.epoch, pending)


def test_racing_compactions_and_appends_never_lose_or_double_count(small: Services) -> None:
    rng = random.Random(5)
    stop = threading.Event()
    results: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def compactor() -> None:
        try:
            while not stop.is_set():
                results.append(compact_session(small, "acme", "s", 0))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    _append(small, 5, 0)
    threads = [threading.Thread(target=compactor) for _ in range(3)]
    for t in threads:
        t.start()
    appended = 5
    for _ in range(25):
        n = rng.randint(1, 4)
        _append(small, n, appended)
        appended += n
        if rng.random() < 0.7:
            _index_all(small)
        # The invariant at every moment: each turn is in the log, or trimmed from it only once
        # inside the summary's contiguous covered prefix and indexed for recall.
        _check(small, appended)
    _index_all(small)
    time.sleep(0.2)
    stop.set()
    for t in threads:
        t.join()
    assert not errors, errors
    summary = _check(small, appended)
    assert summary is not None
    committed = [r for r in results if r["status"] == "compacted"]
    assert summary.version == len(committed)
    assert summary.messages == sum(r["folded"] for r in committed) == summary.last_seq + 1
    assert any(r["status"] == "lost_race" for r in results) or len(committed) >= 1
    info = small.sessions.info("acme", "s")
    assert info is not None
    assert 0 < info.trimmed <= summary.last_seq + 1


def _check(svc: Services, appended: int) -> Summary | None:
    """No message lost: each turn is in the log, or summarized and indexed (with its text)."""
    info = svc.sessions.info("acme", "s")
    assert info is not None
    assert info.message_count == appended
    ids = svc.sessions.ids("acme", "s", 0, -1)
    assert ids == [f"m{i}" for i in range(appended)]  # order and ids intact, trimmed or not
    bodies = svc.sessions.by_ids("acme", "s", ids)
    # Read after the bodies: the summary only grows and a trimmed turn never turns pending.
    summary = svc.summaries.get("acme", "s")
    pending = svc.sessions.pending_ids("acme", "s")
    trimmed = [i for i, body in zip(ids, bodies, strict=True) if body is None]
    assert ids[: len(trimmed)] == trimmed  # trimming only ever takes a prefix
    if summary is not None:
        assert summary.first_seq == 0
        assert summary.messages == summary.last_seq + 1  # contiguous, each turn counted once
        covered = ids[: summary.last_seq + 1]
        assert not set(covered) & pending  # summarized only once indexed
    if trimmed:
        assert summary is not None
        assert len(trimmed) <= summary.last_seq + 1
        assert not set(trimmed) & pending
        where = VectorFilter(
            must={"tenant": "acme", "kind": "message", "session_id": "s", "message_id": trimmed}
        )
        points, _ = svc.index.scroll(where, len(trimmed) + 1)
        assert sorted(str(p.payload["message_id"]) for p in points) == sorted(trimmed)
        assert all(p.payload.get("content") for p in points)  # recall can still serve them
    return summary


def test_the_summary_enters_the_context_with_its_range_and_history_starts_after_it(
    small: Services,
) -> None:
    _append(small, 30, 0)
    _index_all(small)
    assert compact_session(small, "acme", "s", 0)["status"] == "compacted"
    summary = small.summaries.get("acme", "s")
    assert summary is not None
    ctx = assemble_context(small, "acme", ContextRequest("s", "u", 3000, query="what did Ana pay"))
    [item] = [i for i in ctx.items if i["kind"] == "summary"]
    assert item["component"] == "summary"
    assert item["covers"] == {
        "first_id": "m0",
        "last_id": summary.last_id,
        "first_seq": 0,
        "last_seq": summary.last_seq,
        "messages": summary.last_seq + 1,
    }
    history = [i["id"] for i in ctx.items if i["component"] == "history"]
    assert history
    assert all(int(h[1:]) > summary.last_seq for h in history)
    assert ctx.by_component["summary"] > 0
    assert ctx.total == sum(ctx.by_component.values()) + 3


def test_full_fidelity_never_compacts(
    container: Container, settings: Settings, redis_url: str, tokenizer: TiktokenTokenizer
) -> None:
    full = settings.model_copy(update={**SMALL, "summary_fidelity": "full"})
    built = build_container(full, redis_url, HashingEmbedder(), container.services.index, tokenizer)
    _append(built.services, 30, 0)
    _index_all(built.services)
    assert compact_session(built.services, "acme", "s", 0) == {"status": "skipped"}
    assert built.services.summaries.get("acme", "s") is None
    built.redis.close()


def test_deletion_wins_over_an_in_flight_compaction(small: Services) -> None:
    _append(small, 30, 0)
    _index_all(small)
    gate = threading.Event()
    real = small.summarizer

    class Slow:
        name = "slow"

        def summarize(self, previous: str, turns: Any, target: int) -> str:
            gate.wait(10)
            return real.summarize(previous, turns, target)

    small.summarizer = Slow()
    result: list[dict[str, Any]] = []
    job = threading.Thread(target=lambda: result.append(compact_session(small, "acme", "s", 0)))
    job.start()
    time.sleep(0.1)
    sessions.delete_session(small, "acme", "s")
    gate.set()
    job.join()
    assert result == [{"status": "lost_race", "trimmed": 0}]
    assert small.summaries.get("acme", "s") is None


def _llm(url: str, timeout: float = 2.0) -> OpenAISummarizer:
    def count(text: str) -> int:
        return len(text.split())

    return OpenAISummarizer(
        url, "tiny-model", "sk-test", timeout, ExtractiveSummarizer(count), count
    )


def _turns(small: Services) -> list[Any]:
    _append(small, 3, 0)
    return small.sessions.messages("acme", "s", 0, -1)


def test_llm_summarizer_speaks_openai_chat_completions(chat_server: str, small: Services) -> None:
    _Chat.reply = {"choices": [{"message": {"role": "assistant", "content": "Ana paid 3 euros."}}]}
    text = _llm(chat_server).summarize("", _turns(small), 50)
    assert text == "Ana paid 3 euros."
    [request] = _Chat.seen
    assert request["path"] == "/v1/chat/completions"
    assert request["auth"] == "Bearer sk-test"
    assert request["model"] == "tiny-model"
    assert "Turn 2: Ana paid 6 euros" in request["messages"][1]["content"]


@pytest.mark.parametrize(
    ("reply", "delay"),
    [
        ({"choices": []}, 0.0),  # malformed
        ({"choices": [{"message": {"content": "word " * 200}}]}, 0.0),  # over the target
        ({"choices": [{"message": {"content": "late"}}]}, 1.0),  # past the timeout
    ],
)
def test_llm_summarizer_falls_back_to_extractive(
    chat_server: str, small: Services, reply: Any, delay: float
) -> None:
    _Chat.reply, _Chat.delay = reply, delay
    turns = _turns(small)
    text = _llm(chat_server, timeout=0.3).summarize("", turns, 50)
    assert "Ana paid" in text
    assert text == ExtractiveSummarizer(lambda t: len(t.split())).summarize("", turns, 50)


def test_llm_summarizer_unreachable_falls_back(small: Services) -> None:
    text = _llm("http://127.0.0.1:9/v1", timeout=0.3).summarize("", _turns(small), 50)
    assert "Ana paid" in text


def test_history_message_cap(
    container: Container, settings: Settings, redis_url: str, tokenizer: TiktokenTokenizer
) -> None:
    capped = settings.model_copy(update={"history_max_messages": 3})
    built = build_container(
        capped, redis_url, HashingEmbedder(), container.services.index, tokenizer
    )
    _append(built.services, 10, 0)
    ctx = assemble_context(built.services, "acme", ContextRequest("s", "u", 3000, query="x"))
    history = [i["id"] for i in ctx.items if i["component"] == "history"]
    assert history == ["m7", "m8", "m9"]
    built.redis.close()


def _story(svc: Services, session_id: str = "s", user: str = "u", n: int = 30) -> None:
    """n turns of chatter with one planted fact (m5) and its acknowledgement (m6)."""
    msgs = [
        NewMessage(role="user", content=f"Filler turn {i} about the weather and lunch.", id=f"m{i}")
        for i in range(n)
    ]
    msgs[5] = NewMessage(role="user", content="The cabin wifi password is kestrel-4471.", id="m5")
    msgs[6] = NewMessage(role="assistant", content="Noted, I will remember that.", id="m6")
    sessions.append_messages(svc, "acme", session_id, user, msgs)
    info = svc.sessions.info("acme", session_id)
    assert info is not None
    index_messages(svc, "acme", session_id, info.epoch, [m.id or "" for m in msgs])


def _recalled(svc: Services, query: str, **extra: Any) -> list[str]:
    ctx = assemble_context(svc, "acme", ContextRequest("s", "u", 3000, query=query, **extra))
    return [i["id"] for i in ctx.items if i["component"] == "recall"]


def test_trimmed_turns_are_recalled_from_their_vectors_with_their_neighbours(
    small: Services,
) -> None:
    _story(small)
    result = compact_session(small, "acme", "s", 0)
    assert result["status"] == "compacted"
    info = small.sessions.info("acme", "s")
    assert info is not None
    assert info.trimmed == result["trimmed"] > 6  # the planted fact left the log
    assert small.sessions.by_ids("acme", "s", ["m5"]) == [None]
    assert small.sessions.messages("acme", "s", 0, -1)[0].seq == info.trimmed
    recalled = _recalled(small, "what is the wifi password at the cabin? kestrel")
    assert "m5" in recalled  # served from its vector's payload
    assert "m6" in recalled  # the neighbouring turn comes along
    # A retried append of a trimmed turn is still a duplicate, never a second copy.
    again = sessions.append_messages(
        small, "acme", "s", "u", [NewMessage(role="user", content="x", id="m5")]
    )
    assert again.duplicates == 1


def test_a_turn_trimmed_while_the_context_is_assembled_is_not_called_stale(
    small: Services,
) -> None:
    """The context reads the session header first; a compaction may trim a hit before the hits
    are checked. Seen in CI: the planted turn came back `stale` and the context lost it."""
    _story(small)
    before = small.sessions.info("acme", "s")  # read before the trim, as assemble_context does
    assert before is not None
    assert before.trimmed == 0
    assert compact_session(small, "acme", "s", 0)["trimmed"] > 6
    [vector] = small.embedder.embed(["the cabin wifi password"])
    where = VectorFilter(must={"tenant": "acme", "kind": "message", "session_id": "s"})
    hits = [
        h
        for h in small.index.query_batch([VectorQuery(vector, where, 30)])[0]
        if h.payload["message_id"] == "m5"
    ]
    found, excluded = recall._check_session_hits(small, "acme", "u", before, hits)
    assert [m.id for m, _ in found] == ["m5"]
    assert found[0][0].content == "The cabin wifi password is kestrel-4471."
    assert excluded == []
    # A session deleted meanwhile (new epoch) still makes the hit stale.
    sessions.delete_session(small, "acme", "s")
    found, excluded = recall._check_session_hits(small, "acme", "u", before, hits)
    assert (found, [e["reason"] for e in excluded]) == ([], ["stale"])


def test_a_full_fidelity_session_keeps_its_whole_log(small: Services) -> None:
    sessions.set_fidelity(small, "acme", "s", "u", "full")
    _story(small)
    assert compact_session(small, "acme", "s", 0) == {"status": "skipped"}
    assert small.sessions.trim("acme", "s", 0) == 0
    # Switched to full after a compaction: what is left stays.
    _story(small, "s2")
    assert compact_session(small, "acme", "s2", 0)["status"] == "compacted"
    sessions.set_fidelity(small, "acme", "s2", "u", "full")
    _append_more = [NewMessage(role="user", content=f"more {i}", id=f"x{i}") for i in range(40)]
    sessions.append_messages(small, "acme", "s2", "u", _append_more)
    before = small.sessions.info("acme", "s2")
    assert before is not None
    index_messages(small, "acme", "s2", 0, [m.id or "" for m in _append_more])
    assert compact_session(small, "acme", "s2", 0) == {"status": "skipped"}
    assert small.sessions.trim("acme", "s2", 0) == 0
    after = small.sessions.info("acme", "s2")
    assert after is not None
    assert after.trimmed == before.trimmed
    with pytest.raises(InvalidInput):
        sessions.set_fidelity(small, "acme", "s", "u", "lossy")
    with pytest.raises(Conflict):
        sessions.set_fidelity(small, "acme", "s", "someone-else", "compact")


def test_session_reembed_reindexes_trimmed_turns(small: Services) -> None:
    _story(small)
    compact_session(small, "acme", "s", 0)
    cutoff = small.now_ms()
    small.cutoffs.set("acme", "session", "s", cutoff)
    assert "m5" not in _recalled(small, "cabin wifi password kestrel")  # hidden by the cutoff
    counts = run_invalidation(small, "job", "acme", "reembed", [], False, [], ["s"], cutoff)
    assert counts["turns"] == 30  # trimmed turns included, re-embedded from their payloads
    assert "m5" in _recalled(small, "cabin wifi password kestrel")


def test_user_wide_recall_finds_other_sessions_but_not_deleted_or_foreign_ones(
    small: Services,
) -> None:
    _story(small, "old")
    _story(small, "gone")
    _story(small, "theirs", user="v")
    sessions.delete_session(small, "acme", "gone")
    sessions.append_messages(
        small, "acme", "s", "u", [NewMessage(role="user", content="Hello again", id="h")]
    )
    assert "m5" not in _recalled(small, "cabin wifi password kestrel")  # this session only
    ctx = assemble_context(
        small,
        "acme",
        ContextRequest("s", "u", 3000, query="cabin wifi password kestrel", recall_scope="user"),
    )
    recalled = [i for i in ctx.items if i["component"] == "recall"]
    assert "m5" in [i["id"] for i in recalled]
    text = next(m["content"] for m in ctx.messages if "kestrel" in m["content"])
    # The "old" session's turn, once: not the deleted session's, not another user's.
    assert text.count("kestrel-4471") == 1


def test_a_hit_that_is_also_a_neighbour_keeps_its_own_score(small: Services) -> None:
    _story(small)
    m5, m6 = small.sessions.by_ids("acme", "s", ["m5", "m6"])
    assert m5 is not None
    assert m6 is not None
    ranked = recall._with_neighbours(small, "acme", [(m6, 0.03), (m5, 0.02)], 1, {"s": 0})
    scores = {m.id: score for m, score in ranked}
    assert scores["m5"] == 0.02  # not demoted to a neighbour of m6 (a regression)
    assert scores["m7"] == 0.03 * recall.NEIGHBOUR_WEIGHT  # a share of the hit it stands by
    assert [m.id for m, _ in ranked][:2] == ["m6", "m5"]


def test_the_answer_to_a_question_comes_with_it_and_lifts_a_lower_hit(small: Services) -> None:
    """In conversation the question turn is what matches ("How long have you been married?")
    and the next turn, someone else's, holds what is asked about ("5 years already!")."""
    msgs = [
        NewMessage(role="user", name="Ann", content="How long have you been married?", id="q"),
        NewMessage(role="user", name="Bo", content="Five years already, time flies!", id="a"),
        NewMessage(role="user", name="Bo", content="And you, any plans this week?", id="b"),
        NewMessage(role="user", name="Bo", content="We painted the shed on Sunday.", id="c"),
        NewMessage(role="user", name="Bo", content="It is green now.", id="d"),
    ]
    sessions.append_messages(small, "acme", "s", "u", msgs)
    q, a, b, c, d = small.sessions.by_ids("acme", "s", ["q", "a", "b", "c", "d"])
    assert q is not None
    assert a is not None
    assert b is not None
    assert c is not None
    assert d is not None
    ranked = recall._with_neighbours(small, "acme", [(q, 0.9), (a, 0.1), (c, 0.5)], 1, {"s": 0})
    scores = {m.id: score for m, score in ranked}
    assert scores["a"] == 0.9 * recall.ANSWER_WEIGHT  # lifted from its own 0.1
    assert scores["b"] == 0.5 * recall.NEIGHBOUR_WEIGHT  # before a hit that asks nothing
    assert scores["d"] == 0.5 * recall.NEIGHBOUR_WEIGHT  # after it: a neighbour, no answer
    assert [m.id for m, _ in ranked] == ["q", "a", "c", "b", "d"]


def _two_hops(svc: Services) -> None:
    msgs = [
        # Fillers share the question's words: without a second round, they outrank hop2.
        NewMessage(role="user", content=f"Filler {i}: the city works on the weather.", id=f"f{i}")
        for i in range(60)
    ]
    msgs[10] = NewMessage(role="user", content="Found out Marek reports to Idris Alvarez now.")
    msgs[50] = NewMessage(role="user", content="Idris Alvarez is based in the Cape Town office.")
    msgs[10] = dataclasses.replace(msgs[10], id="hop1")
    msgs[50] = dataclasses.replace(msgs[50], id="hop2")
    sessions.append_messages(svc, "acme", "s", "u", msgs)
    index_messages(svc, "acme", "s", 0, [m.id or "" for m in msgs])


@pytest.mark.parametrize("hops", [1, 2])
def test_a_second_round_finds_the_second_hop(
    container: Container,
    settings: Settings,
    redis_url: str,
    tokenizer: TiktokenTokenizer,
    hops: int,
) -> None:
    tuned = settings.model_copy(
        update={
            "context_recall_limit": 12,
            "context_recall_hops": hops,
            "context_recall_neighbours": 0,
            "summary_fidelity": "full",
        }
    )
    built = build_container(
        tuned, redis_url, HashingEmbedder(), container.services.index, tokenizer
    )
    _two_hops(built.services)
    question = "Which city does the person Marek reports to work in?"
    ctx = assemble_context(
        built.services,
        "acme",
        # A budget the top hits fill: room for every turn would hold hop2 either way.
        ContextRequest("ask", "u", 400, query=question, recall_scope="user"),
    )
    recalled = [i["id"] for i in ctx.items if i["component"] == "recall"]
    assert "hop1" in recalled
    assert ("hop2" in recalled) == (hops == 2)
    built.redis.close()


def _recalling(
    container: Container,
    settings: Settings,
    redis_url: str,
    tokenizer: TiktokenTokenizer,
    msgs: list[NewMessage],
    hops: int,
    limit: int | None = None,
) -> Container:
    """Stores that recall without neighbours, the turns appended and indexed."""
    update: dict[str, Any] = {
        "context_recall_hops": hops,
        "context_recall_neighbours": 0,
        "summary_fidelity": "full",
    }
    if limit is not None:
        update["context_recall_limit"] = limit
    tuned = settings.model_copy(update=update)
    built = build_container(
        tuned, redis_url, HashingEmbedder(), container.services.index, tokenizer
    )
    sessions.append_messages(built.services, "acme", "s", "u", msgs)
    index_messages(built.services, "acme", "s", 0, [m.id or "" for m in msgs])
    return built


def test_the_second_round_asks_for_the_seeds_names_not_its_other_news(
    container: Container, settings: Settings, redis_url: str, tokenizer: TiktokenTokenizer
) -> None:
    """The best turn also says what a few others say (a household's running news); the second
    round asks for its names, not for that news, and finds the second hop."""
    news = "The kids were up at five again so I am running on coffee and toast today."
    msgs = [
        # Fillers share the question's words: without a second round, they outrank hop2.
        NewMessage(role="user", content=f"Filler {i}: the city works on the weather.", id=f"f{i}")
        for i in range(60)
    ] + [NewMessage(role="user", content=f"Day {i}. {news}", id=f"n{i}") for i in range(8)]
    msgs[10] = NewMessage(
        role="user", content=f"Found out Marek reports to Idris Alvarez now. {news}", id="hop1"
    )
    msgs[50] = NewMessage(
        role="user", content="Idris Alvarez sits in the Cape Town office.", id="hop2"
    )
    built = _recalling(container, settings, redis_url, tokenizer, msgs, hops=2, limit=12)
    question = "Which city does the person Marek reports to work in?"
    ctx = assemble_context(
        built.services,
        "acme",
        ContextRequest("ask", "u", 400, query=question, recall_scope="user"),
    )
    score = {i["id"]: i["score"] for i in ctx.items if i["component"] == "recall"}
    assert "hop1" in score
    assert "hop2" in score
    assert score["hop2"] > max((v for k, v in score.items() if k.startswith("n")), default=0.0)
    built.redis.close()


def test_a_reply_is_found_by_the_words_of_the_turn_it_answers(
    container: Container, settings: Settings, redis_url: str, tokenizer: TiktokenTokenizer
) -> None:
    """ "It has been great for my mental health" says nothing of running: the turn before it
    does. Its sparse vector holds that turn's words at a share, so a question about running
    finds it among turns that share the rest ("it has been great for ...")."""
    msgs = [
        NewMessage(
            role="user",
            name="Bo",
            content="It has been great for the garden.",
            id=f"f{i}",
        )
        for i in range(40)
    ]
    msgs[20] = NewMessage(role="user", name="Ann", content="What got you into running?", id="q")
    msgs[21] = NewMessage(
        role="user", name="Bo", content="It has been great for my mental health.", id="a"
    )
    built = _recalling(container, settings, redis_url, tokenizer, msgs, hops=1)
    ctx = assemble_context(
        built.services,
        "acme",
        ContextRequest(
            "ask", "u", 200, query="What has running been great for?", recall_scope="user"
        ),
    )
    score = {i["id"]: i["score"] for i in ctx.items if i["component"] == "recall"}
    assert "a" in score  # without the turn before's words: none of its terms but "great"
    assert len(score) < len(msgs) // 2  # a budget the top hits fill
    built.redis.close()


def test_a_backlog_of_thousands_of_turns_compacts(small: Services) -> None:
    # Lua's unpack() stops at ~8,000 values: reading such a log once failed every compaction.
    for start in range(0, 8500, 500):
        _append(small, 500, start)
    assert len(small.sessions.messages("acme", "s", 0, -1)) == 8500
    _index_all(small)
    result = compact_session(small, "acme", "s", 0)
    assert result["status"] == "compacted"
    assert 0 < int(str(result["folded"])) < 8500  # bounded: the rest follows in later steps


def test_a_fold_indexes_topic_pieces_that_compete_and_obey_invalidation(small: Services) -> None:
    msgs = [
        NewMessage(role="user", content=f"Filler turn {i} about the weather and lunch.", id=f"m{i}")
        for i in range(30)
    ]
    for i in range(8, 12):  # a topic of its own, opened by a similarity drop
        msgs[i] = NewMessage(
            role="user", content=f"The Lisbon offsite flat {i} has a balcony.", id=f"m{i}"
        )
    sessions.append_messages(small, "acme", "s", "u", msgs)
    index_messages(small, "acme", "s", 0, [m.id or "" for m in msgs])
    assert compact_session(small, "acme", "s", 0)["status"] == "compacted"
    summary = small.summaries.get("acme", "s")
    assert summary is not None
    where = VectorFilter(must={"tenant": "acme", "kind": "segment", "session_id": "s"})
    pieces, _ = small.index.scroll(where, 100)
    assert pieces, "a fold writes its topic pieces"
    covered = sorted((h.payload["first_seq"], h.payload["last_seq"]) for h in pieces)
    # The pieces tile the fold: contiguous, from its first turn to its last.
    assert covered[0][0] == 0
    assert covered[-1][1] == summary.last_seq
    assert all(a[1] + 1 == b[0] for a, b in itertools.pairwise(covered))

    roomy = assemble_context(
        small, "acme", ContextRequest("s", "u", 3000, query="the Lisbon offsite flat balcony")
    )
    # Room for every turn verbatim: the pieces would only say it again.
    assert not [i for i in roomy.items if i["id"].startswith("segment:")]
    assert any(e["kind"] == "summary" and e["reason"] == "duplicate" for e in roomy.excluded)
    ctx = assemble_context(
        small, "acme", ContextRequest("s", "u", 200, query="the Lisbon offsite flat balcony")
    )
    # Found by the same search as the turns, on their scale: it competed (in, or out for
    # budget or because its turns are there verbatim).
    served = [i for i in ctx.items if i["id"].startswith("segment:")]
    weighed = [e for e in ctx.excluded if e["id"].startswith("segment:")]
    assert served or {e["reason"] for e in weighed} <= {"budget", "duplicate"}
    assert served + weighed
    assert all(i["component"] == "summary" and "covers" in i for i in served)

    small.cutoffs.set("acme", "session", "s", small.now_ms())  # an operator invalidation
    ctx = assemble_context(
        small, "acme", ContextRequest("s", "u", 200, query="the Lisbon offsite flat balcony")
    )
    assert not [i for i in ctx.items if i["id"].startswith("segment:")]
    assert any(e["kind"] == "summary" and e["reason"] == "invalidated" for e in ctx.excluded)
    # The operator's re-embedding brings them back (indexed anew, after the cutoff) ...
    cutoff = small.cutoffs.get("acme", "session", "s")
    run_invalidation(small, "job", "acme", "reembed", [], False, [], ["s"], cutoff)
    ctx = assemble_context(
        small, "acme", ContextRequest("s", "u", 200, query="the Lisbon offsite flat balcony")
    )
    assert not [e for e in ctx.excluded if e["reason"] == "invalidated"]
    reindexed, _ = small.index.scroll(where, 100)
    assert reindexed
    assert all(p.payload["indexed_at"] >= cutoff for p in reindexed)
    # ... and dropping the session's recall takes them with its turns.
    run_invalidation(small, "job", "acme", "drop", [], False, [], ["s"], cutoff)
    assert small.index.scroll(where, 100)[0] == []


def test_a_question_naming_the_speaker_finds_their_turns(small: Services) -> None:
    """Turns rarely name their own speaker; "what did Priya cook?" does: a turn's exact terms
    include its speaker's name."""
    msgs = [
        NewMessage(role="user", name="Tom", content=f"Made soup number {i} tonight.", id=f"t{i}")
        for i in range(20)
    ]
    msgs[13] = NewMessage(
        role="user", name="Priya", content="Made soup number 13 tonight.", id="priya"
    )
    sessions.append_messages(small, "acme", "s", "u", msgs)
    index_messages(small, "acme", "s", 0, [m.id or "" for m in msgs])
    where = session_recall_filter("acme", "s", 0)
    [by_terms] = small.index.query_batch(
        [VectorQuery((), where, 3, encode_query("What did Priya cook?"))]
    )
    assert [h.payload["message_id"] for h in by_terms] == ["priya"]


def test_every_recalled_turn_comes_once(small: Services) -> None:
    """Neighbours of the best hits may be lower hits themselves: still one candidate each."""
    msgs = [
        NewMessage(role="user", content=f"Soup recipe {i}: leeks, stock and pepper.", id=f"s{i}")
        for i in range(40)
    ]
    sessions.append_messages(small, "acme", "s", "u", msgs)
    index_messages(small, "acme", "s", 0, [m.id or "" for m in msgs])
    info = small.sessions.info("acme", "s")
    assert info is not None
    [vector] = small.embedder.embed(["soup recipe with leeks"])
    found = recall.retrieve(
        small,
        "acme",
        "u",
        info,
        [recall.Search("recall", session_recall_filter("acme", "s", 0), 30)],
        "soup recipe with leeks",
        vector,
    )
    ids = [m.id for m, _ in found.recalled]
    assert len(ids) == len(set(ids))
    assert len(ids) > 30  # neighbours were added
