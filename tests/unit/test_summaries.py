"""Compaction rules (window, threshold, causal barrier, tiers) and the extractive summarizer."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from service.domain.models import Message
from service.domain.summaries import CompactionPolicy, extractive_summary, foldable

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def turn(seq: int, role: str = "user", tokens: int = 10, **extra: object) -> Message:
    return Message(
        tenant="t",
        session_id="s",
        user_id="u",
        id=f"m{seq}",
        seq=seq,
        role=role,  # type: ignore[arg-type]
        content=str(extra.pop("content", f"turn {seq}")),
        created_at=NOW,
        tokens=tokens,
        **extra,  # type: ignore[arg-type]
    )


POLICY = CompactionPolicy(window_tokens=50, threshold_tokens=30, target_tokens=100)


def test_folds_only_what_lies_outside_the_window_once_over_the_threshold() -> None:
    turns = [turn(i) for i in range(10)]  # 100 tokens; the newest 50 stay in the window
    assert [t.seq for t in foldable(turns, POLICY, set())] == [0, 1, 2, 3, 4]
    assert foldable(turns[:7], POLICY, set()) == []  # 20 outside: under the threshold


def test_never_folds_past_an_unanswered_tool_call() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    turns = [turn(i) for i in range(10)]
    turns[4] = turn(4, "assistant", tool_calls=[call])
    assert [t.seq for t in foldable(turns, POLICY, set())] == [0, 1, 2, 3]
    # Answered, but the result lies in the window: the call stays with it (a fold that took
    # the call alone left "21 degrees" nowhere in the context: out of the window as an
    # orphan, out of recall as a duplicate).
    answered = [*turns[:5], turn(5, "tool", tool_call_id="c1"), *turns[6:]]
    assert [t.seq for t in foldable(answered, POLICY, set())] == [0, 1, 2, 3]
    # Call and result both outside the window: they fold together.
    early = [
        *turns[:3],
        turn(3, "assistant", tool_calls=[call]),
        turn(4, "tool", tool_call_id="c1"),
    ]
    assert [t.seq for t in foldable([*early, *turns[5:]], POLICY, set())] == [0, 1, 2, 3, 4]


def test_never_folds_past_a_turn_not_yet_indexed() -> None:
    turns = [turn(i) for i in range(10)]
    assert [t.seq for t in foldable(turns, POLICY, {"m4"})] == [0, 1, 2, 3]
    assert foldable(turns, POLICY, {"m1"}) == []  # one turn: under the threshold


def test_tiers() -> None:
    assert CompactionPolicy.for_tier("full", 2048, 1024, 400) is None
    balanced = CompactionPolicy.for_tier("balanced", 2048, 1024, 400)
    compact = CompactionPolicy.for_tier("compact", 2048, 1024, 400)
    assert balanced == CompactionPolicy(2048, 1024, 400)
    assert compact == CompactionPolicy(1024, 512, 200)


def count(text: str) -> int:
    return len(text.split())


def test_extractive_keeps_names_numbers_dates_and_decisions_within_the_target() -> None:
    chatter = [turn(i, content="ok sounds good. sure thing. nice weather here.") for i in range(6)]
    key = [
        turn(10, content="We decided to move the launch to March 14."),
        turn(11, content="Priya will own the budget of 42,000 euros."),
        turn(12, "assistant", content="haha yes. that is fun."),
    ]
    text = extractive_summary("", chatter + key, target_tokens=20, count=count)
    assert "March 14" in text
    assert "Priya" in text
    assert "42,000" in text
    assert "haha" not in text
    # Deterministic, and the previous summary's valuable lines survive the next fold.
    assert text == extractive_summary("", chatter + key, 20, count)
    again = extractive_summary(text, [turn(20, content="fine. ok.")], 20, count)
    assert "March 14" in again
    assert "Priya" in again


@pytest.mark.parametrize("target", [5, 12, 40])
def test_extractive_never_exceeds_the_target(target: int) -> None:
    turns = [turn(i, content=f"On Monday Ana paid {i} dollars. We agreed.") for i in range(20)]
    text = extractive_summary("", turns, target, count)
    assert sum(count(line + "\n") for line in text.splitlines()) <= target


def test_a_backlog_is_folded_in_bounded_steps() -> None:
    turns = [turn(i) for i in range(200)]  # 2,000 tokens; the window keeps the newest 50
    first = foldable(turns, POLICY, set())
    assert sum(t.tokens for t in first) <= 8 * POLICY.threshold_tokens
    assert [t.seq for t in first] == list(range(len(first)))
    rest = foldable(turns[len(first) :], POLICY, set())
    assert rest[0].seq == len(first)
