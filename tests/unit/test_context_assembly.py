"""Pure assembly: exact totals for the target model, never over budget, every item accounted,
one packing mechanism by value per token."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.adapters.tiktoken_tokenizer import TiktokenTokenizer
from service.domain.chat_format import message_tokens, messages_tokens
from service.domain.context import (
    ChunkHit,
    Inputs,
    Policy,
    assemble,
    history_message,
)
from service.domain.errors import InvalidInput
from service.domain.models import Fact, Message
from service.domain.summaries import Summary, SummaryPiece
from service.domain.tool_calls import tool_units

NOW = datetime(2026, 1, 1, tzinfo=UTC)
words = st.text(alphabet=st.sampled_from(list("ab cd\n\n ef.  gh!é中")), min_size=0, max_size=80)


def _message(i: int, content: str, role: str = "user", **kw: object) -> Message:
    return Message(
        "t",
        "s",
        "u",
        f"m{i}",
        i,
        role,
        content,
        NOW + timedelta(minutes=i),
        0,
        **kw,  # type: ignore[arg-type]
    )


def _counted(m: Message, count, exact: bool) -> Message:  # type: ignore[no-untyped-def]
    """As append_messages stores it: counted with o200k, or (exact=False) with another encoding."""
    if exact:
        tokens = message_tokens(history_message(m), count)
        return dataclasses.replace(m, tokens=tokens, tokens_encoding="o200k_base")
    return dataclasses.replace(m, tokens=1, tokens_encoding="cl100k_base")


def _fact(i: int, text: str) -> Fact:
    return Fact("t", f"f{i}", "u", text or "x", None, "active", 1, NOW, NOW)


def _call(i: int, call_id: str, arguments: str = "x") -> Message:
    call = {"id": call_id, "type": "function", "function": {"name": "f", "arguments": arguments}}
    return _message(i, "", role="assistant", tool_calls=[call])


def _result(i: int, call_id: str, content: str) -> Message:
    return _message(i, content, role="tool", tool_call_id=call_id)


@pytest.fixture(scope="module")
def count(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    tok = TiktokenTokenizer(tmp_path_factory.mktemp("tt"), "gpt-4o")
    return lambda text: tok.count(text, "gpt-4o")


def _history(items: list[dict]) -> list[str]:  # type: ignore[type-arg]
    return [i["id"] for i in items if i["component"] == "history"]


@settings(max_examples=150, deadline=None)
@given(
    history=st.lists(st.tuples(words, st.sampled_from(["user", "assistant", "tool"])), max_size=30),
    facts=st.lists(words, max_size=10),
    recalled=st.lists(words, max_size=10),
    chunks=st.lists(words, max_size=8),
    system=st.one_of(st.none(), words),
    state=st.one_of(st.none(), st.dictionaries(st.text(max_size=5), words, max_size=3)),
    summary=st.one_of(st.none(), words),
    available=st.integers(min_value=60, max_value=600),
    stored_exact=st.booleans(),
    strategy=st.sampled_from(["balanced", "recent", "recall"]),
    min_relevance=st.sampled_from([0.0, 0.5]),
)
def test_total_is_exact_within_budget_and_every_turn_accounted(  # type: ignore[no-untyped-def]
    count,
    history,
    facts,
    recalled,
    chunks,
    system,
    state,
    summary,
    available,
    stored_exact,
    strategy,
    min_relevance,
) -> None:
    turns = []
    for i, (text, role) in enumerate(history):
        extra: dict[str, object] = {}
        if role == "tool":
            extra["tool_call_id"] = f"c{i - 1}"
        elif role == "assistant" and i % 2:
            extra["tool_calls"] = [{"id": f"c{i}", "type": "function", "function": {}}]
        turns.append(_counted(_message(i, text, role, **extra), count, stored_exact))
    inputs = Inputs(
        available=available,
        system_prompt=system,
        state=state,
        recent=list(reversed(turns)),
        facts=[(_fact(i, t), 1.0 - i / 100) for i, t in enumerate(facts)],
        recalled=[(_message(1000 + i, t), 0.9 - i / 20) for i, t in enumerate(recalled)],
        retrieved=[(ChunkHit("doc", "v1", i, t or "x"), 0.9) for i, t in enumerate(chunks)],
        summary=None if summary is None else _summary(summary),
        summary_relevance=0.5,
        encoding="o200k_base",
        policy=Policy(strategy=strategy, min_relevance=min_relevance),
    )
    try:
        result = assemble(inputs, count)
    except InvalidInput:
        assert system  # only a system prompt that cannot fit may refuse
        return
    assert result.total == messages_tokens(result.messages, count)
    assert result.total <= available
    assert result.total == (3 if result.messages else 0) + sum(result.by_component.values())
    ids = [i["id"] for i in result.items if i["kind"] == "message"]
    assert len(ids) == len(set(ids)), "a turn entered twice"
    # History is a chronological, contiguous newest suffix of the log, and the chat messages
    # never hold a tool result without its call, nor a call without its results.
    window = _history(result.items)
    assert window == [f"m{i}" for i in range(len(turns) - len(window), len(turns))]
    chat = result.messages[len(result.messages) - len(window) :] if window else []
    answered = {m.get("tool_call_id") for m in chat if m["role"] == "tool"}
    called = {c["id"] for m in chat for c in m.get("tool_calls") or []}
    assert answered <= called
    for m in chat:
        calls = {c["id"] for c in m.get("tool_calls") or []}
        later = {t.tool_call_id for t in turns if t.role == "tool"}
        assert calls & later <= answered
    accounted = {(i["kind"], i["id"]) for i in result.items + result.excluded}
    for unit in tool_units(turns):
        assert ("message", unit[0].id) in accounted


def _summary(text: str, tokens: int = 0) -> Summary:
    return Summary("t", "s", text or "x", "m0", "m1", 0, 1, 3, 2, tokens, "extractive", "")


def test_recent_turns_compete_with_recalled_ones_by_strategy(count) -> None:  # type: ignore[no-untyped-def]
    recent = [_message(100 + i, f"small talk about the weather number {i}") for i in range(12)]
    old = _message(3, "The wifi password at the cabin is heron-4471.")
    base = Inputs(120, None, None, list(reversed(recent)), recalled=[(old, 0.9)])
    recall = assemble(dataclasses.replace(base, policy=Policy(strategy="recall")), count)
    lively = assemble(dataclasses.replace(base, policy=Policy(strategy="recent")), count)
    assert "m3" in [i["id"] for i in recall.items]
    assert "m3" not in [i["id"] for i in lively.items]
    assert len(_history(lively.items)) > len(_history(recall.items))


def test_latest_exchange_is_guaranteed_even_against_relevant_items(count) -> None:  # type: ignore[no-untyped-def]
    recent = [
        _message(10, "what did we decide about the venue?"),
        _message(9, "earlier", "assistant"),
    ]
    hits = [(_message(i, f"The venue decision number {i} was final."), 1.0) for i in range(8)]
    result = assemble(Inputs(80, None, None, recent, recalled=hits), count)
    assert "m10" in _history(result.items)


def test_min_relevance_keeps_unrelated_items_out_when_budget_is_free(count) -> None:  # type: ignore[no-untyped-def]
    recent = [_message(5, "Thanks!")]
    unrelated = (ChunkHit("manual", "v1", 0, "Replace the filter every six months."), 0.9)
    # First in its own search (relevance 0.9), but hardly similar to the query at all.
    free = Inputs(2000, None, None, recent, retrieved=[unrelated], similarity={"manual#0": 0.05})
    assert [i["kind"] for i in assemble(free, count).items] == ["chunk", "message"]
    strict = dataclasses.replace(free, policy=Policy(min_relevance=0.3))
    result = assemble(strict, count)
    assert [i["kind"] for i in result.items] == ["message"]
    assert {"kind": "chunk", "id": "manual#0", "reason": "low_relevance"} in result.excluded


def test_summary_competes_and_at_a_tight_budget_gives_way(count) -> None:  # type: ignore[no-untyped-def]
    summary = _summary("Maya: we chose Lisbon for the offsite. " * 20)
    recent = [_message(50, "Where was the offsite again?")]
    hit = (_message(7, "Final answer: the offsite is in Lisbon."), 0.9)
    roomy = assemble(
        Inputs(2000, None, None, recent, [hit], summary=summary, summary_relevance=0.8), count
    )
    assert [i["kind"] for i in roomy.items][:1] == ["summary"]
    assert roomy.items[0]["covers"]["last_seq"] == 1
    tight = assemble(
        Inputs(200, None, None, recent, [hit], summary=summary, summary_relevance=0.8), count
    )
    assert "summary" not in [i["kind"] for i in tight.items]
    assert "m7" in [i["id"] for i in tight.items]
    assert {"kind": "summary", "id": "summary:3", "reason": "budget"} in tight.excluded


def test_recalled_turns_render_in_time_order_with_date_and_speaker(count) -> None:  # type: ignore[no-untyped-def]
    later = dataclasses.replace(_message(9, "I moved to Porto."), name="Maya")
    earlier = dataclasses.replace(_message(2, "I live in Lyon.", "assistant"))
    recent = [_message(40, "where does Maya live?")]
    result = assemble(Inputs(500, None, None, recent, [(later, 0.9), (earlier, 0.8)]), count)
    recall = next(m["content"] for m in result.messages if "earlier turns" in m["content"])
    assert recall.index("Lyon") < recall.index("Porto")
    # One line per day, then each turn with its speaker.
    assert recall.endswith("\n1 January 2026\nassistant: I live in Lyon.\nMaya: I moved to Porto.")
    weeks = dataclasses.replace(later, id="w", seq=30, created_at=NOW + timedelta(days=15))
    hits = [(later, 0.9), (earlier, 0.8), (weeks, 0.7)]
    result = assemble(Inputs(500, None, None, recent, hits), count)
    recall = next(m["content"] for m in result.messages if "earlier turns" in m["content"])
    assert recall.endswith("Porto.\n16 January 2026\nMaya: I moved to Porto.")
    assert result.total == messages_tokens(result.messages, count)
    assert result.total == messages_tokens(result.messages, count)


def test_a_tool_call_and_its_results_enter_and_leave_together(count) -> None:  # type: ignore[no-untyped-def]
    question = _message(3, "thanks, and the weather?")
    call = _call(1, "c1", "x " * 200)
    result_turn = _result(2, "c1", "21 degrees")
    recent = [question, result_turn, call, _message(0, "hi")]  # newest first
    small = assemble(Inputs(60, None, None, recent), count)
    assert [m["role"] for m in small.messages] == ["user"]
    roomy = assemble(Inputs(2000, None, None, recent), count)
    assert [m["role"] for m in roomy.messages] == ["user", "assistant", "tool", "user"]


def test_a_tool_result_whose_call_was_folded_is_served_as_a_recalled_line(count) -> None:  # type: ignore[no-untyped-def]
    # The call is in the summary; its result is the oldest turn after it (a fold that split
    # them, as releases before this one could): never a chat message without its call, but
    # still in the context when it answers the question.
    recent = [_message(6, "what was the temperature?"), _result(5, "c1", "21 degrees")]
    result = assemble(Inputs(500, None, None, recent, [(recent[1], 0.9)]), count)
    assert [m["role"] for m in result.messages] == ["system", "user"]
    assert "21 degrees" in result.messages[0]["content"]


def test_system_prompt_that_cannot_fit_is_an_input_error(count) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput) as err:
        assemble(Inputs(20, "word " * 100, None, []), count)
    assert err.value.field == "system_prompt"


def test_context_hash_changes_with_content(count) -> None:  # type: ignore[no-untyped-def]
    a = assemble(Inputs(100, None, None, [_message(0, "hello")]), count)
    b = assemble(Inputs(100, None, None, [_message(0, "hullo")]), count)
    again = assemble(Inputs(100, None, None, [_message(0, "hello")]), count)
    assert a.context_hash != b.context_hash
    assert a.context_hash == again.context_hash


def test_tool_units_group_a_call_with_its_results() -> None:
    turns = [_message(0, "q"), _call(1, "c1"), _result(2, "c1", "a"), _result(3, "cX", "b")]
    assert [[m.id for m in u] for u in tool_units(turns)] == [["m0"], ["m1", "m2"], ["m3"]]


def _piece(first: int, last: int, text: str) -> SummaryPiece:
    return SummaryPiece(
        "s", text, f"m{first}", f"m{last}", first, last, 2, NOW, NOW + timedelta(days=2)
    )


def test_topic_pieces_compete_by_relevance_and_render_after_the_gist(count) -> None:  # type: ignore[no-untyped-def]
    gist = _summary("We planned a trip.")
    lisbon = _piece(0, 9, "Maya booked the Lisbon flat for the offsite.")
    garden = _piece(10, 19, "Tom asked about tomato seedlings.")
    recent = [_message(50, "Which flat did we book?")]
    inputs = Inputs(
        2000,
        None,
        None,
        recent,
        summary=gist,
        summary_relevance=0.9,
        pieces=[(lisbon, 0.9), (garden, 0.1)],
    )
    result = assemble(inputs, count)
    summary = result.messages[0]["content"]
    assert summary.startswith("Summary of the earlier conversation:\nWe planned a trip.")
    assert "\n[2026-01-01 to 2026-01-03] Maya booked the Lisbon flat" in summary
    [item] = [i for i in result.items if i["id"] == "segment:0-9"]
    assert item["covers"] == {
        "first_id": "m0",
        "last_id": "m9",
        "first_seq": 0,
        "last_seq": 9,
        "messages": 10,
    }
    # At a tight budget the relevant turn and piece win, the unrelated piece does not.
    tight = assemble(dataclasses.replace(inputs, available=60), count)
    ids = [i["id"] for i in tight.items]
    assert "segment:0-9" in ids
    assert "segment:10-19" not in ids


def test_a_piece_whose_turns_are_all_verbatim_does_not_pay_again(count) -> None:  # type: ignore[no-untyped-def]
    turns = [_message(i, f"turn {i} about the Lisbon flat") for i in range(3)]
    piece = _piece(0, 2, "Talk about the Lisbon flat.")
    recent = [_message(9, "and the flat?")]
    hits = [(t, 0.9) for t in turns]
    result = assemble(Inputs(2000, None, None, recent, hits, pieces=[(piece, 0.5)]), count)
    assert {"kind": "summary", "id": "segment:0-2", "reason": "duplicate"} in result.excluded
    assert "segment:0-2" not in [i["id"] for i in result.items]


def test_a_fact_learned_from_turns_that_are_all_verbatim_does_not_pay_again(count) -> None:  # type: ignore[no-untyped-def]
    said = _message(3, "We moved to Porto last spring, the flat is near the river.")
    other = _message(4, "The kids started at the new school.")
    recent = [_message(9, "Where do we live now?")]
    moved = dataclasses.replace(_fact(1, "User lives in Porto."), lineage=["s/m3"])
    both = dataclasses.replace(_fact(2, "User has two kids."), lineage=["s/m3", "s/m7"])
    api = _fact(3, "User prefers the window seat.")  # no lineage: stated through the API
    inputs = Inputs(2000, None, None, recent, [(said, 0.9), (other, 0.8)])
    result = assemble(
        dataclasses.replace(inputs, facts=[(moved, 0.9), (both, 0.8), (api, 0.5)]), count
    )
    assert {"kind": "fact", "id": "f1", "reason": "duplicate"} in result.excluded
    ids = [i["id"] for i in result.items]
    assert "m3" in ids
    assert "f1" not in ids
    # One of its sources is not there verbatim: the fact still says something new.
    assert "f2" in ids
    assert "f3" in ids
    # When its turn does not fit, the fact (shorter) can still carry the statement.
    tight = assemble(dataclasses.replace(inputs, available=40, facts=[(moved, 0.95)]), count)
    assert "f1" in [i["id"] for i in tight.items]


def test_a_recalled_turn_whose_speaker_the_query_names_counts_more(count) -> None:  # type: ignore[no-untyped-def]
    toms = _message(1, "Booked the flight to Lagos for the 12th.", name="Tom")
    mayas = _message(2, "Booked the flight to Lisbon for the 14th.", name="Maya")
    recent = [_message(9, "ok")]
    hits = [(mayas, 0.9), (toms, 0.88)]  # Maya's turn is a little closer to the words
    # Room for one recalled line: the speaker the query names wins it.
    room = 45
    asked = assemble(
        Inputs(room, None, None, recent, hits, query="When did tom book the flight?"), count
    )
    ids = [i["id"] for i in asked.items]
    assert "m1" in ids
    assert "m2" not in ids
    # Nobody named (or a name inside another word): relevance alone decides.
    for query in ("When was the flight booked?", "Tomas booked what?"):
        plain = assemble(Inputs(room, None, None, recent, hits, query=query), count)
        assert "m2" in [i["id"] for i in plain.items]


def test_a_fact_whose_source_turn_competes_stands_in_for_it(count) -> None:  # type: ignore[no-untyped-def]
    said = _message(3, "Router login at the ski chalet is osprey-8321 now.", name="Tom")
    recent = [_message(9, "ok")]
    learned = dataclasses.replace(
        _fact(1, "Router login at the ski chalet is osprey-8321."), lineage=["s/m3"]
    )
    # The fact is a little closer to the words, but its source turn is there to be had: with
    # room for one of them the turn (verbatim, dated, its speaker) goes in.
    inputs = Inputs(48, None, None, recent, [(said, 0.8)], facts=[(learned, 0.95)])
    ids = [i["id"] for i in assemble(inputs, count).items]
    assert "m3" in ids
    assert "f1" not in ids
    # A fact whose source is not among the candidates keeps its full value.
    alone = assemble(dataclasses.replace(inputs, recalled=[]), count)
    assert "f1" in [i["id"] for i in alone.items]


def test_an_assistant_echo_stands_in_for_the_statement_it_confirms(count) -> None:  # type: ignore[no-untyped-def]
    said = _message(3, "Heads up: the wifi at Grandma's flat is lapwing-3423 since the reset.")
    echo = _message(4, "Got it, wifi at Grandma's flat: lapwing-3423.", role="assistant")
    reply = _message(6, "Sounds like a plan for the weekend.", role="assistant")
    asked = _message(5, "Any plan for the weekend?")
    recent = [_message(9, "ok")]
    # The echo is closer to the words, but it only says again what the user said: with room
    # for one line, the user's own statement goes in.
    inputs = Inputs(50, None, None, recent, [(echo, 0.9), (said, 0.7)])
    ids = [i["id"] for i in assemble(inputs, count).items]
    assert "m3" in ids
    assert "m4" not in ids
    # An answer that says something of its own is no echo: it keeps its relevance.
    other = assemble(dataclasses.replace(inputs, recalled=[(reply, 0.9), (asked, 0.7)]), count)
    assert "m6" in [i["id"] for i in other.items]
