"""Topic segments, pure: where a conversation changes topic, and cutting at those boundaries.

A turn opens a new segment when its embedding's cosine similarity to the mean of the few turns
before it drops below a threshold (the first turn always opens one). Compaction then ends a
fold at a segment boundary rather than mid-topic, when the turns that moves cost only a small
share of the fold.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

SPAN = 3  # a turn is compared with the mean of this many turns before it


class Segmented(Protocol):
    @property
    def tokens(self) -> int: ...
    @property
    def segment_start(self) -> bool: ...


def segment_starts(
    before: Sequence[Sequence[float]], vectors: Sequence[Sequence[float]], threshold: float
) -> list[bool]:
    """For each of `vectors` (turns in order, after the turns `before`), whether it opens a
    topic segment. `threshold` <= 0 turns segmentation off (only the first turn opens one)."""
    context = [list(v) for v in before[-SPAN:]]
    out: list[bool] = []
    for vector in vectors:
        if not context:
            out.append(True)
        elif threshold <= 0:
            out.append(False)
        else:
            mean = [sum(col) / len(context) for col in zip(*context, strict=True)]
            out.append(_cosine(vector, mean) < threshold)
        context = [*context, list(vector)][-SPAN:]
    return out


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


def partial_tail(turns: Sequence[Segmented], slack_tokens: int, following: bool) -> int:
    """How many of the newest `turns` (oldest first) to hold back so that a fold ends at a
    segment boundary: the head of a topic that continues past the fold (`following` is whether
    the turn right after `turns` opens a segment), if it costs at most `slack_tokens`."""
    if not turns or following:
        return 0
    cost = 0
    for back, turn in enumerate(reversed(turns), start=1):
        cost += turn.tokens
        if turn.segment_start:
            return back if cost <= slack_tokens and back < len(turns) else 0
    return 0
