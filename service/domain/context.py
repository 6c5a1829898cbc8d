"""Context assembly, pure: candidates in, chat messages and an account of every decision out.

One packing mechanism (DESIGN.md, "Context assembly"). Guaranteed, taken first: the system
prompt, working memory, the latest exchange (the last user turn and the turns after it) and a
small recent tail, tool calls always with their results. Everything else competes on one scale
(`budget.pack`): recent turns by a recency prior, recalled turns, the summary, facts and
document chunks by their relevance to the query, each weighted by a prior per source and
`strategy`. Items below `min_relevance` stay out even when budget is free.

Chosen turns that continue the recent window render as chat messages (history); any other
chosen turn renders in the recalled section, in time order, with its date and speaker. The
rendered messages are counted exactly and the least valuable items dropped until they fit, so
`total` is exactly what `messages` costs for the target model and never exceeds `available`.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any, Literal

from service.domain.budget import Candidate, density, pack
from service.domain.chat_format import (
    REPLY_PRIMING,
    TOKENS_PER_MESSAGE,
    TOKENS_PER_NAME,
    ChatMessage,
    CountFn,
    message_tokens,
)
from service.domain.errors import InvalidInput
from service.domain.facts import message_source
from service.domain.models import Excluded, ExclusionReason, Fact, Message, excluded
from service.domain.sparse import terms
from service.domain.summaries import Summary, SummaryPiece
from service.domain.tool_calls import tool_units

_WORDS = re.compile(r"\w+")
COMPONENTS = ("system", "state", "summary", "facts", "retrieved", "recall", "history")
STATE_HEADER = "Working memory for this session:"
FACTS_HEADER = "Known facts about the user:"
RETRIEVED_HEADER = "Relevant documents:"
RECALL_HEADER = "Relevant earlier turns of this conversation:"
SUMMARY_HEADER = "Summary of the earlier conversation:"
HEADERS = {
    "state": STATE_HEADER,
    "summary": SUMMARY_HEADER,
    "facts": FACTS_HEADER,
    "retrieved": RETRIEVED_HEADER,
    "recall": RECALL_HEADER,
}

# A fact whose source turns compete too is worth this share of its relevance (see _candidates).
STAND_IN = 0.5
ECHO_SHARE = 0.5  # an assistant turn with this share of its terms from the user turn before it
Strategy = Literal["balanced", "recent", "recall"]
STRATEGY_NAMES: tuple[Strategy, ...] = ("balanced", "recent", "recall")


@dataclass(frozen=True, slots=True)
class Weights:
    """How one strategy values each source (the prior multiplied into an item's relevance)."""

    recalled: float  # a turn found by relevance to the query
    recent: float  # a recent turn's recency prior at the newest turn ...
    half_life: float  # ... halving every this many turns back
    summary: float
    fact: float
    chunk: float


STRATEGIES: dict[Strategy, Weights] = {
    # Answer the question: what it is about first, the recent turns next.
    "balanced": Weights(recalled=1.0, recent=0.3, half_life=6, summary=0.15, fact=0.9, chunk=0.8),
    # Chat that lives in the present: the recent window first, then what relates to it.
    "recent": Weights(recalled=0.5, recent=1.0, half_life=30, summary=0.7, fact=0.6, chunk=0.5),
    # Questions about the past: relevance almost alone.
    "recall": Weights(recalled=1.0, recent=0.05, half_life=3, summary=0.4, fact=1.0, chunk=0.9),
}


@dataclass(frozen=True, slots=True)
class Policy:
    """Per request: the strategy and the relevance floor; per deployment: the guaranteed tail."""

    strategy: Strategy = "balanced"
    min_relevance: float = 0.0
    latest_share: float = 0.15  # the latest exchange is guaranteed within this share
    tail_turns: int = 2  # guaranteed turns before the latest exchange ...
    tail_share: float = 0.05  # ... within this share of the budget
    summary_share: float = 0.25  # the summary competes only while it costs at most this share
    hit_recency: float = 0.04  # among recalled turns, the newest counts up to 4% more
    # A recalled turn whose speaker the query names counts this much more ("when did Tom
    # book the flight?": Tom's own turns over the others' that mention flights).
    speaker_named: float = 0.1


@dataclass(frozen=True, slots=True)
class ChunkHit:
    """A chunk of a document's live version, found by retrieval."""

    doc_id: str
    version: str
    chunk: int
    text: str
    stale_s: float | None = None  # a newer write is pending (write-behind) since this long


@dataclass(frozen=True, slots=True)
class Inputs:
    """Everything assembly decides over. Relevance scores are in [0, 1], comparable across
    sources (the use case normalizes each search's fused ranks the same way)."""

    available: int
    system_prompt: str | None
    state: dict[str, Any] | None
    recent: list[Message]  # the session's newest turns after the summary, newest first
    recalled: list[tuple[Message, float]] = field(default_factory=list)
    facts: list[tuple[Fact, float]] = field(default_factory=list)
    retrieved: list[tuple[ChunkHit, float]] = field(default_factory=list)
    summary: Summary | None = None  # the gist: covers the log before `recent`
    summary_relevance: float = 0.0
    # The summary's second layer: topic pieces found by relevance (on the turns' scale).
    pieces: list[tuple[SummaryPiece, float]] = field(default_factory=list)
    # Cosine similarity to the query by item id (message, fact, chunk id, "summary:<v>"):
    # what `min_relevance` is compared with. An item without one is not held to it.
    similarity: dict[str, float] = field(default_factory=dict)
    # The target model's encoding: a turn whose stored count used it needs no recount.
    encoding: str = ""
    policy: Policy = field(default_factory=Policy)
    query: str = ""  # what the relevance is to (the speakers it names weigh their turns)


@dataclass(slots=True)
class Assembly:
    """The assembled context and the account of what went in and what did not."""

    messages: list[ChatMessage]
    total: int
    by_component: dict[str, int]
    items: list[dict[str, Any]]
    excluded: list[Excluded]
    context_hash: str


def assemble(inputs: Inputs, count: CountFn) -> Assembly:
    """Guaranteed items first, the rest by value per token; render, count exactly, trim."""
    available = inputs.available - REPLY_PRIMING
    if available <= 0:
        raise InvalidInput(
            f"budget leaves {inputs.available} tokens for the context; at least "
            f"{REPLY_PRIMING + 1} are needed",
            field="budget_tokens",
        )
    frames = _frames(count)
    plan = _Plan(inputs, count, frames)
    plan.take_flexible(available, plan.take_guaranteed(available))
    while True:
        messages, per_component, items = plan.render()
        total = REPLY_PRIMING + sum(per_component.values()) if messages else 0
        if total <= inputs.available:
            break
        plan.drop_least_valuable()
    return Assembly(
        messages=messages,
        total=total,
        by_component=per_component,
        items=items,
        excluded=plan.excluded,
        context_hash=context_hash(messages),
    )


def context_hash(messages: list[ChatMessage]) -> str:
    """A stable hash of exactly what the model will see."""
    canonical = json.dumps(messages, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def history_message(message: Message) -> ChatMessage:
    """A logged turn as an OpenAI-shaped chat message."""
    out: ChatMessage = {"role": message.role, "content": message.chat_content}
    if message.name:
        out["name"] = message.name
    if message.tool_calls:
        out["tool_calls"] = message.tool_calls
    if message.tool_call_id:
        out["tool_call_id"] = message.tool_call_id
    return out


# --- the plan ------------------------------------------------------------------------------


def _frames(count: CountFn) -> dict[str, int]:
    """What each section's header message costs (paid once, by its first item)."""
    system_frame = TOKENS_PER_MESSAGE + count("system")
    frames = {name: system_frame + count(header) for name, header in HEADERS.items()}
    return {**frames, "system": system_frame, "history": 0}


@dataclass(slots=True)
class _Unit:
    """Recent turns that enter together (a tool call with its results), oldest first."""

    turns: list[Message]
    distance: int  # how many turns are newer than its newest turn
    relevance: float = 0.0  # its best turn's relevance to the query (0: not a search hit)

    @property
    def id(self) -> str:
        return self.turns[0].id

    @property
    def orphan(self) -> bool:
        """A tool result whose call is not in the recent turns: never a chat message."""
        return self.turns[0].role == "tool"


class _Plan:
    """What goes in, decided in steps: guaranteed, flexible, then trimmed to the exact count."""

    def __init__(self, inputs: Inputs, count: CountFn, frames: dict[str, int]) -> None:
        self.inputs = inputs
        self.count = count
        self.frames = frames
        self.weights = STRATEGIES[inputs.policy.strategy]
        self.system: Candidate | None = None
        self.state: Candidate | None = None
        self.guaranteed: list[_Unit] = []  # newest first, contiguous
        self.chosen: list[Candidate] = []
        self.excluded: list[Excluded] = []
        # (role, name): the chat framing a stored count includes, and a recalled line's prefix.
        self.speakers: dict[tuple[str, str | None], tuple[int, int]] = {}
        oldest_first = list(reversed(inputs.recent))
        units = tool_units(oldest_first)
        after = len(oldest_first)
        self.units: list[_Unit] = []  # newest first
        for unit in units:
            after -= len(unit)
            self.units.append(_Unit(unit, after))
        self.units.reverse()

    # -- guaranteed -----------------------------------------------------------------------

    def take_guaranteed(self, available: int) -> int:
        """Take what is guaranteed; returns the tokens it leaves for everything else."""
        inputs, count, policy = self.inputs, self.count, self.inputs.policy
        left = available
        if inputs.system_prompt:
            cost = self.frames["system"] + count(inputs.system_prompt)
            if cost > left:
                raise InvalidInput(
                    f"system_prompt needs {cost} tokens but the budget leaves {available}",
                    field="system_prompt",
                )
            self.system = Candidate("system", "system", cost, section="system")
            left -= cost
        if inputs.state:
            cost = self.frames["state"] + count("\n" + _state_text(inputs.state))
            if cost <= left:
                self.state = Candidate("state", "state", cost, section="state", body=inputs.state)
                left -= cost
            else:
                self.excluded.append(excluded("state", "state", "budget"))
        latest = self.units[: self._latest_exchange()]
        cost = sum(self._turn_tokens(m) for u in latest for m in u.turns)
        # Bounded: an exchange longer than its share is not guaranteed; its turns compete
        # with the rest (as the newest turns, they are worth the most recency). A user turn
        # that is the newest of all (the question the model is about to answer) always is.
        if any(u.orphan for u in latest) or cost > min(left, policy.latest_share * available):
            newest = self.units[0].turns if self.units else []
            cost = sum(self._turn_tokens(m) for m in newest)
            if [m.role for m in newest] == ["user"] and cost <= left:
                self.guaranteed = [self.units[0]]
                left -= cost
            return left
        self.guaranteed = list(latest)
        left -= cost
        tail_left = min(left, int(policy.tail_share * available))
        tail_turns = policy.tail_turns
        for unit in self.units[len(latest) :]:
            cost = sum(self._turn_tokens(m) for m in unit.turns)
            if unit.orphan or tail_turns <= 0 or cost > tail_left:
                break  # the window may not start with a result whose call is not in it
            self.guaranteed.append(unit)
            tail_turns -= len(unit.turns)
            tail_left -= cost
            left -= cost
        return left

    def _latest_exchange(self) -> int:
        """How many of the newest units reach back to the last user turn (all, if none)."""
        for n, unit in enumerate(self.units):
            if any(m.role == "user" for m in unit.turns):
                return n + 1
        return len(self.units)

    # -- flexible -------------------------------------------------------------------------

    def take_flexible(self, available: int, left: int) -> None:
        """Pack the rest into the `left` tokens the guaranteed items leave of `available`."""
        inputs, policy = self.inputs, self.inputs.policy
        candidates: list[Candidate] = []
        low: list[Candidate] = []
        for cand in self._candidates(available):
            similarity = inputs.similarity.get(cand.id)
            # Recent turns (no score) are the conversation itself: never held to the floor.
            below = (
                cand.score is not None
                and similarity is not None
                and similarity < policy.min_relevance
            )
            (low if below else candidates).append(cand)
        self.excluded += [_out(c, "low_relevance") for c in low]
        while True:
            chosen, out = pack(candidates, left, self.frames)
            self.chosen = chosen
            # A recent turn that is there only for its recency serves continuity: without the
            # turns between it and the window it is noise. Leave it out and pack again.
            _, rest = self._history_units()
            gaps = [c for c in rest if isinstance(c.body, _Unit) and not c.body.relevance]
            covered = self._said_again()
            if not gaps and not covered:
                break
            candidates = [c for c in candidates if c not in gaps and c not in covered]
            self.excluded += [_out(c, "budget") for c in gaps]
            self.excluded += [_out(c, "duplicate") for c in covered]
        self.excluded += [_out(c, "budget") for c in out]

    def _said_again(self) -> list[Candidate]:
        """Chosen topic pieces whose every turn is in the context verbatim, and chosen facts
        learned from turns that all are: they would only say again what is there."""
        pieces = [c for c in self.chosen if isinstance(c.body, SummaryPiece)]
        facts = [c for c in self.chosen if isinstance(c.body, Fact) and c.body.lineage]
        if not pieces and not facts:
            return []
        present: set[tuple[str, int]] = set()
        sources: set[str] = set()
        turns = [m for u in self.guaranteed for m in u.turns]
        for c in self.chosen:
            body = c.body
            turns += body.turns if isinstance(body, _Unit) else [body]
        for m in turns:
            if isinstance(m, Message):
                present.add((m.session_id, m.seq))
                sources.add(message_source(m.session_id, m.id))
        covered = [
            c
            for c in pieces
            if all(
                (c.body.session_id, seq) in present
                for seq in range(c.body.first_seq, c.body.last_seq + 1)
            )
        ]
        return covered + [c for c in facts if all(s in sources for s in c.body.lineage)]

    def _candidates(self, available: int) -> list[Candidate]:
        inputs, w, count = self.inputs, self.weights, self.count
        taken = {m.id for u in self.guaranteed for m in u.turns}
        relevance = {m.id: score for m, score in inputs.recalled}
        out: list[Candidate] = []
        recent_ids: set[str] = set()
        for unit in self.units:
            ids = [m.id for m in unit.turns]
            recent_ids.update(ids)
            if ids[0] in taken:
                continue
            decay = 0.5 ** (unit.distance / w.half_life)
            # Relevance below the floor does not count: the turn is then only a recent turn.
            floor = inputs.policy.min_relevance
            unit.relevance = max(
                (relevance.get(i, 0.0) for i in ids if inputs.similarity.get(i, 1.0) >= floor),
                default=0.0,
            )
            section = "recall" if unit.orphan else "history"
            group = self._day_group(unit.turns[0]) if unit.orphan else ""
            cost = sum(
                self._line_tokens(m) if unit.orphan else self._turn_tokens(m) for m in unit.turns
            )
            value = w.recalled * unit.relevance + w.recent * decay
            # Recent turns carry no relevance floor: they are the conversation itself.
            out.append(Candidate("message", unit.id, cost, value, section, None, None, unit, group))
        recalled = _echoes_stand_in([(m, s) for m, s in inputs.recalled if m.id not in recent_ids])
        named = _speakers_named(inputs.query, {m.name for m, _ in recalled if m.name})
        for message, score, boost in _hit_recency(recalled, inputs.policy.hit_recency):
            if message.name in named:
                boost *= 1 + inputs.policy.speaker_named
            value = w.recalled * score * boost
            cost = self._line_tokens(message)
            group = self._day_group(message)
            out.append(
                Candidate("message", message.id, cost, value, "recall", score, None, message, group)
            )
        # A fact learned from turns that are candidates themselves stands in for them: it is
        # worth less than they are (verbatim, dated, with their speaker), and once they are in
        # it is left out as a duplicate.
        sources = {message_source(m.session_id, m.id) for m, _ in recalled}
        sources |= {message_source(m.session_id, m.id) for u in self.units for m in u.turns}
        for fact, score in inputs.facts:
            cost = count(_fact_line(fact))
            stand_in = bool(fact.lineage) and all(s in sources for s in fact.lineage)
            value = w.fact * score * (STAND_IN if stand_in else 1.0)
            out.append(
                Candidate("fact", fact.id, cost, value, "facts", score, str(fact.version), fact)
            )
        for chunk, score in inputs.retrieved:
            cost = count(_chunk_line(chunk))
            out.append(
                Candidate(
                    "chunk",
                    f"{chunk.doc_id}#{chunk.chunk}",
                    cost,
                    w.chunk * score,
                    "retrieved",
                    score,
                    chunk.version,
                    chunk,
                )
            )
        for piece, score in inputs.pieces:
            cost = count(_piece_line(piece))
            value = w.summary * score
            out.append(Candidate("summary", piece.id, cost, value, "summary", score, None, piece))
        s = inputs.summary
        if s is not None:
            cost = count("\n" + s.text)
            cand = Candidate(
                "summary",
                f"summary:{s.version}",
                cost,
                w.summary * inputs.summary_relevance,
                "summary",
                inputs.summary_relevance,
                str(s.version),
                s,
            )
            if cost + self.frames["summary"] <= inputs.policy.summary_share * available:
                out.append(cand)
            else:
                self.excluded.append(_out(cand, "budget"))
        return out

    # -- rendering and trimming -----------------------------------------------------------

    def _history_units(self) -> tuple[list[_Unit], list[Candidate]]:
        """The units rendered as chat messages (guaranteed, then chosen recent units that
        continue them back in time, newest first) and the chosen candidates rendered elsewhere."""
        chosen_units = {c.id: c for c in self.chosen if isinstance(c.body, _Unit)}
        window = list(self.guaranteed)
        rest = [c for c in self.chosen if not isinstance(c.body, _Unit)]
        start = len(window)
        contiguous = True
        for unit in self.units[start:]:
            cand = chosen_units.get(unit.id)
            if cand is None:
                contiguous = False
                continue
            if contiguous and not unit.orphan and cand.section == "history":
                window.append(unit)
            else:
                contiguous = False
                rest.append(cand)
        return window, rest

    def render(self) -> tuple[list[ChatMessage], dict[str, int], list[dict[str, Any]]]:
        """The chat messages, exactly what each component's messages cost, and the items in
        the order their content appears."""
        count = self.count
        window, rest = self._history_units()
        by_section: dict[str, list[Candidate]] = {}
        for cand in rest:
            by_section.setdefault(cand.section, []).append(cand)
        sections: list[tuple[str, ChatMessage]] = []
        items: list[dict[str, Any]] = []
        if self.system is not None:
            sections.append(("system", _system(self.inputs.system_prompt or "")))
            items.append(_item(self.system, "system"))
        if self.state is not None:
            text = STATE_HEADER + "\n" + _state_text(self.state.body)
            sections.append(("state", _system(text)))
            items.append(_item(self.state, "state"))
        chosen = by_section.get("summary", [])
        if chosen:
            # The gist first, then the topic pieces in time order.
            gists = [c for c in chosen if isinstance(c.body, Summary)]
            pieces = sorted(
                (c for c in chosen if isinstance(c.body, SummaryPiece)),
                key=lambda c: c.body.first_seq,
            )
            text = "".join(
                ["\n" + c.body.text for c in gists] + [_piece_line(c.body) for c in pieces]
            )
            sections.append(("summary", _system(SUMMARY_HEADER + text)))
            items += [_item(c, "summary") for c in gists + pieces]
        for name, line in (("facts", _fact_line), ("retrieved", _chunk_line)):
            chosen = by_section.get(name, [])
            if chosen:
                text = HEADERS[name] + "".join(line(c.body) for c in chosen)
                sections.append((name, _system(text)))
                items += [_item(c, name) for c in chosen]
        recalled = self._recalled_turns(
            by_section.get("recall", []) + by_section.get("history", [])
        )
        if recalled:
            text = RECALL_HEADER + _recall_lines([m for m, _ in recalled])
            sections.append(("recall", _system(text)))
            items += [_turn_item(m, "recall", c) for m, c in recalled]
        per_component = dict.fromkeys(COMPONENTS, 0)
        for name, message in sections:
            # Joined text can tokenize differently from its parts: count the rendered message.
            per_component[name] = message_tokens(message, count)
        turns = [m for unit in reversed(window) for m in unit.turns]
        per_component["history"] = sum(self._turn_tokens(m) for m in turns)
        guaranteed = {id(u) for u in self.guaranteed}
        by_unit = {id(u): u for u in window}
        owner = {m.id: uid for uid, u in by_unit.items() for m in u.turns}
        chosen_by_id = {c.id: c for c in self.chosen}
        for m in turns:
            unit = by_unit[owner[m.id]]
            picked = None if owner[m.id] in guaranteed else chosen_by_id.get(unit.id)
            items.append(_turn_item(m, "history", picked, self._turn_tokens(m)))
        messages = [m for _, m in sections] + [history_message(m) for m in turns]
        return messages, per_component, items

    def _recalled_turns(self, chosen: list[Candidate]) -> list[tuple[Message, Candidate]]:
        """Turns rendered in the recalled section, in time order."""
        turns: list[tuple[Message, Candidate]] = []
        for cand in chosen:
            body = cand.body
            members = body.turns if isinstance(body, _Unit) else [body]
            turns += [(m, cand) for m in members]
        return sorted(turns, key=lambda t: (t[0].created_at, t[0].session_id, t[0].seq))

    def drop_least_valuable(self) -> None:
        """The rendered count went over: give up the least valuable item (a flexible one,
        then the oldest tail turn, then working memory)."""
        if self.chosen:
            worst = min(self.chosen, key=density)
            self.chosen.remove(worst)
            self.excluded.append(_out(worst, "budget"))
            return
        if len(self.guaranteed) > 1:
            unit = self.guaranteed.pop()
            self.excluded += [excluded("message", m.id, "budget") for m in unit.turns]
            return
        if self.state is not None:
            self.excluded.append(_out(self.state, "budget"))
            self.state = None
            return
        if self.guaranteed:
            unit = self.guaranteed.pop()
            self.excluded += [excluded("message", m.id, "budget") for m in unit.turns]
            return
        raise InvalidInput("the system prompt alone exceeds the budget", field="system_prompt")

    def _day_group(self, message: Message) -> str:
        """The day line a recalled turn renders under (its cost is paid by the day's first)."""
        key = "day:" + _day(message)
        if key not in self.frames:
            self.frames[key] = self.count(_day_line(_day(message)))
        return key

    def _line_tokens(self, message: Message) -> int:
        """What a turn costs as a recalled line, for packing: from its stored count when that
        was made with the target encoding (its content is not encoded again), else counted.
        The rendered section is counted exactly before anything is served."""
        exact = self.inputs.encoding and message.tokens_encoding == self.inputs.encoding
        if not exact or message.tool_calls or message.tool_call_id:
            # Counted: another encoding, or a stored count that includes the call's JSON.
            return self.count(_recall_prefix(message) + message.content)
        speaker = (message.role, message.name)
        if speaker not in self.speakers:
            framing = TOKENS_PER_MESSAGE + self.count(message.role)
            if message.name:
                framing += TOKENS_PER_NAME + self.count(message.name)
            self.speakers[speaker] = (framing, self.count(_recall_prefix(message)))
        framing, prefix = self.speakers[speaker]
        return max(1, message.tokens - framing) + prefix

    def _turn_tokens(self, message: Message) -> int:
        if self.inputs.encoding and message.tokens_encoding == self.inputs.encoding:
            return message.tokens
        return message_tokens(history_message(message), self.count)


# --- helpers -------------------------------------------------------------------------------


def _hit_recency(
    hits: list[tuple[Message, float]], weight: float
) -> list[tuple[Message, float, float]]:
    """Each hit with a factor (1 + weight * r), r in [0, 1] its place in time among the hits:
    a tie-breaker towards the newer turn (a correction over what it corrects), never more."""
    if weight <= 0 or len(hits) < 2:
        return [(m, s, 1.0) for m, s in hits]
    times = [m.created_at.timestamp() for m, _ in hits]
    lo, span = min(times), (max(times) - min(times)) or 1.0
    return [(m, s, 1 + weight * (t - lo) / span) for (m, s), t in zip(hits, times, strict=True)]


def _echoes_stand_in(hits: list[tuple[Message, float]]) -> list[tuple[Message, float]]:
    """An assistant turn that says again what the user turn right before it said (most of its
    terms are that turn's: "Got it, the wifi at Grandma's is lapwing-3423") stands in for it,
    as a fact does for its source: the user's statement takes the better of the two scores,
    the echo STAND_IN of its own."""
    place = {(m.session_id, m.seq): i for i, (m, _) in enumerate(hits)}
    scores = [s for _, s in hits]
    for i, (m, s) in enumerate(hits):
        j = place.get((m.session_id, m.seq - 1))
        if m.role != "assistant" or j is None or hits[j][0].role != "user":
            continue
        said, echoed = _term_set(hits[j][0].content), _term_set(m.content)
        if echoed and len(said & echoed) >= ECHO_SHARE * len(echoed):
            scores[j] = max(scores[j], s)
            scores[i] = s * STAND_IN
    return [(m, score) for (m, _), score in zip(hits, scores, strict=True)]


@lru_cache(maxsize=4096)
def _term_set(text: str) -> frozenset[str]:
    """A turn's terms, once per text: the same turns are hits of call after call."""
    return frozenset(terms(text))


def _speakers_named(query: str, names: set[str]) -> set[str]:
    """The speakers' names the query holds as whole words, case aside."""
    if not query:
        return set()
    words = {w.casefold() for w in _WORDS.findall(query)}
    return {n for n in names if all(w.casefold() in words for w in _WORDS.findall(n))}


def _out(cand: Candidate, reason: ExclusionReason) -> Excluded:
    body = cand.body
    if isinstance(body, _Unit):
        # A unit leaves as its turns; report the unit's first turn, which names it.
        return excluded("message", body.id, reason)
    return excluded(cand.kind, cand.id, reason)


def _item(cand: Candidate, component: str) -> dict[str, Any]:
    item: dict[str, Any] = {
        "kind": cand.kind,
        "id": cand.id,
        "component": component,
        "tokens": cand.tokens,
    }
    if cand.score is not None:
        item["score"] = round(cand.score, 6)
    if cand.version is not None:
        item["version"] = cand.version
    body = cand.body
    if isinstance(body, Summary | SummaryPiece):  # the gist, or a topic piece: what it covers
        item["covers"] = {
            "first_id": body.first_id,
            "last_id": body.last_id,
            "first_seq": body.first_seq,
            "last_seq": body.last_seq,
            "messages": body.messages,
        }
    if isinstance(body, ChunkHit):
        item["doc_id"], item["chunk"] = body.doc_id, body.chunk
        if body.stale_s is not None:
            item["stale_s"] = round(body.stale_s, 3)
    return item


def _turn_item(
    message: Message, component: str, cand: Candidate | None, tokens: int | None = None
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "kind": "message",
        "id": message.id,
        "component": component,
        "tokens": tokens if tokens is not None else (cand.tokens if cand else 0),
    }
    if cand is not None and cand.score is not None:
        item["score"] = round(cand.score, 6)
    return item


def _system(content: str) -> ChatMessage:
    return {"role": "system", "content": content}


def _state_text(state: dict[str, Any]) -> str:
    return json.dumps(state, sort_keys=True, ensure_ascii=False)


def _fact_line(fact: Fact) -> str:
    if fact.status == "conflict":  # concurrent writes kept both: the model should know
        return "\n- " + fact.text + " (unresolved conflict: another statement disagrees)"
    return "\n- " + fact.text


def _chunk_line(chunk: ChunkHit) -> str:
    return f"\n- [{chunk.doc_id}] {chunk.text}"


def _recall_lines(turns: list[Message]) -> str:
    """Recalled turns in time order under a line per day: questions about the past are about
    when and who, and a day's turns share its date."""
    out: list[str] = []
    day = ""
    for m in turns:
        if _day(m) != day:
            day = _day(m)
            out.append(_day_line(day))
        out.append(_recall_prefix(m) + m.content)
    return "".join(out)


def _day(message: Message) -> str:
    """ "30 October 2025": unambiguous, and two tokens cheaper than "[2025-10-30]" for the
    target models' encodings (a day line is paid by every day recalled)."""
    return _day_of(message.created_at.date())


@lru_cache(maxsize=4096)
def _day_of(day: date) -> str:
    """`_day`, once per day (strftime costs ~2 us; a context asks ~250 times)."""
    return f"{day.day} {day:%B %Y}"


def _day_line(day: str) -> str:
    return f"\n{day}"


def _recall_prefix(message: Message) -> str:
    return f"\n{message.name or message.role}: "


def _piece_line(piece: SummaryPiece) -> str:
    """A topic piece with the days it spans."""
    first, last = f"{piece.started_at:%Y-%m-%d}", f"{piece.ended_at:%Y-%m-%d}"
    when = first if first == last else f"{first} to {last}"
    return f"\n[{when}] {piece.text}"
