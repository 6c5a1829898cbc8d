"""Rolling summaries (log compaction), pure: what may be folded, and an extractive summarizer.

A summary covers a contiguous prefix of a session's log, [0, last_seq], and has a version;
compactions are serialized by compare-and-set on that version, so a message is folded exactly
once. What may be folded (the causal barrier): turns outside the recent window, up to but not
including the first assistant tool call whose results have not all arrived, and the first turn
not yet indexed for recall (a summarized turn must stay findable). A fold that would end
mid-topic ends at the topic's boundary instead, when that holds back little.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from service.domain.chat_format import CountFn
from service.domain.models import Message
from service.domain.segments import partial_tail
from service.domain.tool_calls import whole_units_end

Fidelity = Literal["full", "balanced", "compact"]
FIDELITIES: tuple[Fidelity, ...] = ("full", "balanced", "compact")
FOLD_CAP = 8  # one fold takes at most this many times the threshold in tokens


@dataclass(frozen=True, slots=True)
class Summary:
    """A session's rolling summary: its text and the log range [first_seq, last_seq] it covers."""

    tenant: str
    session_id: str
    text: str
    first_id: str
    last_id: str
    first_seq: int
    last_seq: int
    version: int
    messages: int  # how many turns were folded in, over all versions (== last_seq + 1)
    tokens: int
    summarizer: str
    created_at: str


@dataclass(frozen=True, slots=True)
class CompactionPolicy:
    """Per tier: the recent window kept verbatim, and how much beyond it triggers a fold."""

    window_tokens: int
    threshold_tokens: int
    target_tokens: int
    # A fold that would end mid-topic holds back that topic's head when it is at most this
    # share of the fold (it is folded with the rest of its topic later).
    segment_slack: float = 0.0

    @classmethod
    def for_tier(
        cls, tier: Fidelity, window: int, threshold: int, target: int, segment_slack: float = 0.0
    ) -> CompactionPolicy | None:
        if tier == "full":
            return None  # never compact: the whole log stays verbatim
        if tier == "compact":
            return cls(
                max(1, window // 2), max(1, threshold // 2), max(32, target // 2), segment_slack
            )
        return cls(window, threshold, target, segment_slack)


def foldable(
    turns: Sequence[Message], policy: CompactionPolicy, pending: set[str]
) -> list[Message]:
    """The oldest turns (after the current summary) that a compaction may fold now.

    `turns` are the unsummarized turns, oldest first; `pending` the ids not yet indexed.
    Empty when the turns outside the window stay under the threshold.
    """
    window, kept = 0, len(turns)
    for i in range(len(turns) - 1, -1, -1):
        if window + turns[i].tokens > policy.window_tokens:
            break
        window += turns[i].tokens
        kept = i
    outside = list(turns[:kept])
    answered = {t.tool_call_id for t in turns if t.role == "tool" and t.tool_call_id}
    cut = len(outside)
    for i, turn in enumerate(outside):
        open_call = turn.role == "assistant" and any(
            c.get("id") not in answered for c in (turn.tool_calls or []) if isinstance(c, dict)
        )
        if open_call or turn.id in pending:
            cut = i
            break
    # Bounded input for the summarizer: a backlog is folded over several steps.
    total = 0
    for i, turn in enumerate(outside[:cut]):
        total += turn.tokens
        if total > FOLD_CAP * policy.threshold_tokens and i > 0:
            cut = i
            break
    folded = outside[:cut]
    slack = int(policy.segment_slack * sum(t.tokens for t in folded))
    following = cut >= len(turns) or turns[cut].segment_start
    folded = folded[: len(folded) - partial_tail(folded, slack, following)]
    # Never between a call and its results: the result would stay in the window without its
    # call (and be dropped from it) while the summary held only the call.
    folded = folded[: whole_units_end(turns, len(folded))]
    if sum(t.tokens for t in folded) < policy.threshold_tokens:
        return []
    return folded


# --- topic pieces: the summary's second layer --------------------------------------------

PIECE_MAX_TURNS = 24  # a topic longer than this is summarized in several pieces
PIECE_TARGET_TOKENS = 80


@dataclass(frozen=True, slots=True)
class SummaryPiece:
    """The summary of one topic segment of a fold: indexed for search, it competes for the
    budget by relevance like a turn; `first_seq`..`last_seq` are the turns it covers."""

    session_id: str
    text: str
    first_id: str
    last_id: str
    first_seq: int
    last_seq: int
    version: int  # the summary version whose fold made it
    started_at: datetime
    ended_at: datetime

    @property
    def id(self) -> str:
        return f"segment:{self.first_seq}-{self.last_seq}"

    @property
    def messages(self) -> int:
        return self.last_seq - self.first_seq + 1


def topic_pieces(folded: Sequence[Message]) -> list[list[Message]]:
    """The folded turns split where a topic segment starts, and every PIECE_MAX_TURNS turns."""
    pieces: list[list[Message]] = []
    for turn in folded:
        if not pieces or turn.segment_start or len(pieces[-1]) >= PIECE_MAX_TURNS:
            pieces.append([])
        pieces[-1].append(turn)
    return pieces


# --- the extractive summarizer -----------------------------------------------------------

_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_NUMBER = re.compile(r"\d")
_DATE = re.compile(
    r"\b(\d{4}-\d{2}-\d{2}|mon|tues|wednes|thurs|fri|satur|sun)day\b|\b(jan|feb|mar|apr|may|jun|"
    r"jul|aug|sep|oct|nov|dec)[a-z]*\b|\b(today|tomorrow|yesterday|next week|deadline)\b",
    re.IGNORECASE,
)
_DECISION = re.compile(
    r"\b(decid\w*|agree\w*|chose|choose|will|won't|must|plan\w*|confirm\w*|cancel\w*|"
    r"prefer\w*|need\w*|book\w*|switch\w*|approv\w*|reject\w*|instead|remember)\b",
    re.IGNORECASE,
)
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]{2,}\b")


def _score(sentence: str) -> int:
    """Names, numbers, dates and decisions are what a summary must not lose."""
    return (
        3 * bool(_DECISION.search(sentence))
        + 3 * bool(_DATE.search(sentence))
        + 2 * bool(_NUMBER.search(sentence))
        + 2 * min(2, len(_NAME.findall(sentence)))
    )


def extractive_summary(
    previous: str, turns: Sequence[Message], target_tokens: int, count: CountFn
) -> str:
    """Deterministic: keep the highest-value lines (previous summary lines and new sentences,
    each line tagged with its speaker) in their original order, within `target_tokens`."""
    lines = [line for line in previous.splitlines() if line.strip()]
    for turn in turns:
        speaker = turn.name or turn.role
        for sentence in _SENTENCE.split(turn.content):
            sentence = " ".join(sentence.split())
            if len(sentence) >= 3:
                lines.append(f"{speaker}: {sentence}")
    ranked = sorted(range(len(lines)), key=lambda i: (-_score(lines[i]), -i))
    chosen: set[int] = set()
    used = 0
    for i in ranked:
        cost = count(lines[i] + "\n")
        if used + cost > target_tokens:
            continue
        chosen.add(i)
        used += cost
    return "\n".join(lines[i] for i in sorted(chosen))
