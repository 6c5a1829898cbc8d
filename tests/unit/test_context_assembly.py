"""Pure assembly: exact totals for the target model, never over budget, every item accounted."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.adapters.tiktoken_tokenizer import TiktokenTokenizer
from service.domain.chat_format import message_tokens, messages_tokens
from service.domain.context import ChunkHit, Inputs, assemble, history_message
from service.domain.errors import InvalidInput
from service.domain.models import Fact, Message

NOW = datetime(2026, 1, 1, tzinfo=UTC)
words = st.text(alphabet=st.sampled_from(list("ab cd\n\n ef.  gh!é中")), min_size=0, max_size=80)


def _message(i: int, content: str, role: str = "user") -> Message:
    return Message("t", "s", "u", f"m{i}", i, role, content, NOW, 0)  # type: ignore[arg-type]


def _counted(m: Message, count, exact: bool) -> Message:  # type: ignore[no-untyped-def]
    """As append_messages stores it: counted with o200k, or (exact=False) with another encoding."""
    if exact:
        tokens = message_tokens(history_message(m), count)
        return dataclasses.replace(m, tokens=tokens, tokens_encoding="o200k_base")
    return dataclasses.replace(m, tokens=1, tokens_encoding="cl100k_base")


def _fact(i: int, text: str) -> Fact:
    return Fact("t", f"f{i}", "u", text or "x", None, "active", 1, NOW, NOW)


@pytest.fixture(scope="module")
def count(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    tok = TiktokenTokenizer(tmp_path_factory.mktemp("tt"), "gpt-4o")
    return lambda text: tok.count(text, "gpt-4o")


@settings(max_examples=150, deadline=None)
@given(
    history=st.lists(words, max_size=30),
    facts=st.lists(words, max_size=10),
    recalled=st.lists(words, max_size=10),
    chunks=st.lists(words, max_size=8),
    system=st.one_of(st.none(), words),
    state=st.one_of(st.none(), st.dictionaries(st.text(max_size=5), words, max_size=3)),
    available=st.integers(min_value=60, max_value=600),
    stored_exact=st.booleans(),
)
def test_total_is_exact_and_within_budget(  # type: ignore[no-untyped-def]
    count, history, facts, recalled, chunks, system, state, available, stored_exact
) -> None:
    inputs = Inputs(
        available=available,
        system_prompt=system,
        state=state,
        facts=[(_fact(i, t), 1.0 - i / 100) for i, t in enumerate(facts)],
        recalled=[(_message(1000 + i, t), 0.5) for i, t in enumerate(recalled)],
        history=[
            _counted(_message(i, t), count, stored_exact)
            for i, t in reversed(list(enumerate(history)))
        ],
        encoding="o200k_base",
        retrieved=[(ChunkHit("doc", "v1", i, t or "x"), 0.9) for i, t in enumerate(chunks)],
    )
    try:
        result = assemble(inputs, count)
    except InvalidInput:
        # Only a system prompt that cannot fit may refuse.
        assert system
        return
    assert result.total == messages_tokens(result.messages, count)
    assert result.total <= available
    assert result.total == (3 if result.messages else 0) + sum(result.by_component.values())
    included = [m for m in result.messages if m["role"] != "system"]
    in_window = [i["id"] for i in result.items if i["component"] == "history"]
    assert in_window == [f"m{i}" for i in range(len(history) - len(included), len(history))]
    # History is in chronological order and is the newest suffix of the conversation.
    assert [m["content"] for m in included] == history[len(history) - len(included) :]
    accounted = {(i["kind"], i["id"]) for i in result.items + result.excluded}
    assert {("message", f"m{i}") for i in range(len(history))} <= accounted


def test_recalled_turn_already_in_the_window_is_a_duplicate(count) -> None:  # type: ignore[no-untyped-def]
    turns = [_message(i, f"turn {i}") for i in range(3)]
    result = assemble(Inputs(1000, None, None, [], [(turns[1], 0.9)], list(reversed(turns))), count)
    assert {"kind": "message", "id": "m1", "reason": "duplicate"} in result.excluded
    assert [i["component"] for i in result.items] == ["history"] * 3


def test_system_prompt_that_cannot_fit_is_an_input_error(count) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput) as err:
        assemble(Inputs(20, "word " * 100, None, [], [], []), count)
    assert err.value.field == "system_prompt"


def test_context_hash_changes_with_content(count) -> None:  # type: ignore[no-untyped-def]
    a = assemble(Inputs(100, None, None, [], [], [_message(0, "hello")]), count)
    b = assemble(Inputs(100, None, None, [], [], [_message(0, "hullo")]), count)
    again = assemble(Inputs(100, None, None, [], [], [_message(0, "hello")]), count)
    assert a.context_hash != b.context_hash
    assert a.context_hash == again.context_hash


def test_window_never_starts_with_an_orphan_tool_result(count) -> None:  # type: ignore[no-untyped-def]
    call = dataclasses.replace(
        _message(0, "", role="assistant"),
        tool_calls=[
            {
                "id": "c1",
                "type": "function",
                "function": {"name": "lookup", "arguments": "x " * 200},
            }
        ],
    )
    result_turn = dataclasses.replace(_message(1, "42", role="tool"), tool_call_id="c1")
    question = _message(2, "thanks, and the weather?")
    history = [question, result_turn, call]  # newest first
    small = assemble(Inputs(60, None, None, [], [], history), count)
    assert [m["role"] for m in small.messages] == ["user"]
    assert {"kind": "message", "id": "m1", "reason": "incomplete_tool_call"} in small.excluded
    assert small.total == messages_tokens(small.messages, count)
    roomy = assemble(Inputs(2000, None, None, [], [], history), count)
    assert [m["role"] for m in roomy.messages] == ["assistant", "tool", "user"]
