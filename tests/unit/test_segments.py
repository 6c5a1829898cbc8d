"""Topic segments: where a topic changes, and cutting windows and folds at those boundaries."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from service.domain.models import Message
from service.domain.segments import partial_tail, segment_starts
from service.domain.summaries import CompactionPolicy, foldable

A, B = [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]
NEAR_A = [0.9, 0.1, 0.0]


def turn(seq: int, tokens: int = 10, start: bool = False) -> Message:
    return Message(
        tenant="t",
        session_id="s",
        user_id="u",
        id=f"m{seq}",
        seq=seq,
        role="user",
        content=f"turn {seq}",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        tokens=tokens,
        tokens_encoding="x",
        segment_start=start,
    )


def test_a_similarity_drop_opens_a_segment() -> None:
    assert segment_starts([], [A, NEAR_A, A, B, B], 0.5) == [True, False, False, True, False]
    # The turns before the batch count: the batch continues their topic.
    assert segment_starts([A, A], [NEAR_A, B], 0.5) == [False, True]
    # Off: only the session's first turn opens one.
    assert segment_starts([], [A, B, A], 0.0) == [True, False, False]


def test_compared_with_the_mean_of_the_last_turns_not_only_the_previous_one() -> None:
    # A lone off-topic reply does not make the next on-topic turn a new segment.
    mixed = [0.6, 0.8, 0.0]
    assert segment_starts([A, A, A], [mixed, A], 0.7) == [True, False]


def test_fold_tail_held_back_only_when_cheap_and_mid_topic() -> None:
    turns = [turn(0, start=True), turn(1), turn(2), turn(3, start=True), turn(4)]
    assert partial_tail(turns, slack_tokens=20, following=False) == 2
    assert partial_tail(turns, slack_tokens=19, following=False) == 0
    assert partial_tail(turns, slack_tokens=20, following=True) == 0  # ends at a boundary


def test_compaction_ends_at_a_topic_boundary_when_cheap() -> None:
    turns = [turn(i, start=i in (0, 6, 9)) for i in range(14)]  # 140 tokens
    policy = CompactionPolicy(window_tokens=50, threshold_tokens=30, target_tokens=100)
    # Outside the window: m0..m8; m9 opens a segment, so the fold ends at a boundary anyway.
    assert [t.seq for t in foldable(turns, policy, set())] == list(range(9))
    slack = dataclasses.replace(policy, segment_slack=0.5)
    turns[9] = turn(9)  # now the topic m6.. runs on into the window
    assert [t.seq for t in foldable(turns, slack, set())] == list(range(6))
    assert [t.seq for t in foldable(turns, policy, set())] == list(range(9))  # slack 0: no cut
