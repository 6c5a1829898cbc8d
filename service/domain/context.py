"""Context assembly, pure: candidates in, chat messages and an account of every decision out.

The use case gathers candidates from the stores; this module decides. Costs are estimated per item
for packing, then the rendered messages are counted exactly and trimmed until they fit, so
`total` is exactly what `messages` costs for the target model and never exceeds `available`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from service.domain.budget import Candidate, Component, Packed, pack
from service.domain.chat_format import (
    REPLY_PRIMING,
    TOKENS_PER_MESSAGE,
    ChatMessage,
    CountFn,
    message_tokens,
)
from service.domain.errors import InvalidInput
from service.domain.models import Fact, Message
from service.domain.segments import partial_head
from service.domain.summaries import Summary

COMPONENTS = ("system", "state", "summary", "facts", "retrieved", "recall", "history")
STATE_HEADER = "Working memory for this session:"
FACTS_HEADER = "Known facts about the user:"
RETRIEVED_HEADER = "Relevant documents:"
RECALL_HEADER = "Relevant earlier turns of this conversation:"
SUMMARY_HEADER = "Summary of the earlier conversation:"


@dataclass(frozen=True, slots=True)
class ChunkHit:
    """A chunk of a document's live version, found by retrieval."""

    doc_id: str
    version: str
    chunk: int
    text: str
    stale_s: float | None = None  # a newer write is pending (write-behind) since this long


@dataclass(frozen=True, slots=True)
class BudgetPolicy:
    """Minimum and share of the budget per flexible component (config, per request later)."""

    facts_min: int = 0
    facts_share: float = 0.15
    retrieved_min: int = 0
    retrieved_share: float = 0.25
    recall_min: int = 0
    recall_share: float = 0.25


@dataclass(frozen=True, slots=True)
class Inputs:
    """Everything assembly decides over; facts and recalled turns come best first."""

    available: int
    system_prompt: str | None
    state: dict[str, Any] | None
    facts: list[tuple[Fact, float]]
    recalled: list[tuple[Message, float]]
    history: list[Message]  # newest first
    retrieved: list[tuple[ChunkHit, float]] = field(default_factory=list)
    policy: BudgetPolicy = field(default_factory=BudgetPolicy)
    # The target model's encoding: a turn whose stored count used it needs no recount.
    encoding: str = ""
    summary: Summary | None = None  # covers the log before `history`
    # Whether `history` reaches back to the summary (or the session's start): if not, older
    # turns were left out, and the window may start at a topic boundary instead (when the
    # partial topic costs at most `segment_slack` of the window).
    history_complete: bool = True
    segment_slack: float = 0.0


@dataclass(slots=True)
class Assembly:
    """The assembled context and the account of what went in and what did not."""

    messages: list[ChatMessage]
    total: int
    by_component: dict[str, int]
    items: list[dict[str, Any]]
    excluded: list[dict[str, Any]]
    context_hash: str


def assemble(inputs: Inputs, count: CountFn) -> Assembly:
    """Pack, render and trim until the exact count fits `inputs.available`."""
    available = inputs.available - REPLY_PRIMING
    if available <= 0:
        raise InvalidInput(
            f"budget leaves {inputs.available} tokens for the context; at least "
            f"{REPLY_PRIMING + 1} are needed",
            field="budget_tokens",
        )
    duplicates: list[Candidate] = []
    components = _components(inputs, count)
    recall = components[COMPONENTS.index("recall")]
    while True:
        packed = pack(components, available)
        in_window = {c.id for c in packed[COMPONENTS.index("history")].items}
        dup = [c for c in recall.candidates if c.id in in_window]
        if not dup:
            break
        # A recalled turn that is in the recent window anyway is a duplicate: drop it and repack.
        duplicates += dup
        recall.candidates[:] = [c for c in recall.candidates if c.id not in in_window]
    by_name = {p.name: p for p in packed}
    system = by_name["system"]
    if inputs.system_prompt and not system.items:
        raise InvalidInput(
            f"system_prompt needs {system.excluded[0].tokens + system.frame_tokens} tokens but "
            f"the budget leaves {available}",
            field="system_prompt",
        )
    topic_tail = _cut_at_segment(by_name["history"], inputs)
    trimmed: list[Candidate] = []
    orphans: list[Candidate] = []
    while True:
        orphans += _drop_orphan_tool_results(by_name["history"])
        messages, per_component = _render(by_name, count)
        total = REPLY_PRIMING + sum(per_component.values()) if messages else 0
        if total <= inputs.available:
            break
        trimmed.append(_drop_lowest(by_name))
    return Assembly(
        messages=messages,
        total=total,
        by_component=per_component,
        items=_items(by_name),
        excluded=_excluded(by_name, trimmed, duplicates)
        + [{"kind": c.kind, "id": c.id, "reason": "incomplete_tool_call"} for c in orphans]
        + [{"kind": c.kind, "id": c.id, "reason": "topic_boundary"} for c in topic_tail],
        context_hash=context_hash(messages),
    )


def context_hash(messages: list[ChatMessage]) -> str:
    """A stable hash of exactly what the model will see."""
    canonical = json.dumps(messages, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def history_message(message: Message) -> ChatMessage:
    """A logged turn as an OpenAI-shaped chat message."""
    out: ChatMessage = {"role": message.role, "content": message.content}
    if message.name:
        out["name"] = message.name
    if message.tool_calls:
        out["tool_calls"] = message.tool_calls
    if message.tool_call_id:
        out["tool_call_id"] = message.tool_call_id
    return out


def _components(inputs: Inputs, count: CountFn) -> list[Component]:
    policy = inputs.policy
    system_frame = TOKENS_PER_MESSAGE + count("system")
    system = []
    if inputs.system_prompt:
        system = [
            Candidate("system", "system", count(inputs.system_prompt), body=inputs.system_prompt)
        ]
    state = []
    if inputs.state:
        state_tokens = count("\n" + _state_text(inputs.state))
        state = [Candidate("state", "state", state_tokens, body=inputs.state)]
    summary = []
    if inputs.summary is not None:
        s = inputs.summary
        summary = [
            Candidate(
                "summary", f"summary:{s.version}", count("\n" + s.text), None, str(s.version), s
            )
        ]
    facts = [
        Candidate("fact", f.id, count(_fact_line(f)), score, str(f.version), f)
        for f, score in inputs.facts
    ]
    recall = [
        Candidate("message", m.id, count(_recall_line(m)), score, None, m)
        for m, score in inputs.recalled
    ]
    history = [
        Candidate("message", m.id, _turn_tokens(m, inputs, count), None, None, m)
        for m in inputs.history
    ]
    return [
        Component("system", system, frame_tokens=system_frame, fixed=True),
        Component("state", state, frame_tokens=system_frame + count(STATE_HEADER), fixed=True),
        Component(
            "summary", summary, frame_tokens=system_frame + count(SUMMARY_HEADER), fixed=True
        ),
        Component(
            "facts",
            facts,
            minimum=policy.facts_min,
            share=policy.facts_share,
            frame_tokens=system_frame + count(FACTS_HEADER),
        ),
        Component(
            "retrieved",
            [
                Candidate(
                    "chunk", f"{c.doc_id}#{c.chunk}", count(_chunk_line(c)), score, c.version, c
                )
                for c, score in inputs.retrieved
            ],
            minimum=policy.retrieved_min,
            share=policy.retrieved_share,
            frame_tokens=system_frame + count(RETRIEVED_HEADER),
        ),
        Component(
            "recall",
            recall,
            minimum=policy.recall_min,
            share=policy.recall_share,
            frame_tokens=system_frame + count(RECALL_HEADER),
        ),
        Component("history", history, contiguous=True),
    ]


def _turn_tokens(message: Message, inputs: Inputs, count: CountFn) -> int:
    if inputs.encoding and message.tokens_encoding == inputs.encoding:
        return message.tokens
    return message_tokens(history_message(message), count)


def _render(by_name: dict[str, Packed], count: CountFn) -> tuple[list[ChatMessage], dict[str, int]]:
    """The chat messages, and exactly what each component's messages cost."""
    sections: list[tuple[str, ChatMessage]] = []
    system = by_name["system"].items
    if system:
        sections.append(("system", _system(system[0].body)))
    state = by_name["state"].items
    if state:
        sections.append(("state", _system(STATE_HEADER + "\n" + _state_text(state[0].body))))
    summary = by_name["summary"].items
    if summary:
        sections.append(("summary", _system(SUMMARY_HEADER + "\n" + summary[0].body.text)))
    for name, header, line in (
        ("facts", FACTS_HEADER, _fact_line),
        ("retrieved", RETRIEVED_HEADER, _chunk_line),
        ("recall", RECALL_HEADER, _recall_line),
    ):
        items = by_name[name].items
        if items:
            sections.append((name, _system(header + "".join(line(i.body) for i in items))))
    per_component = dict.fromkeys(COMPONENTS, 0)
    for name, message in sections:
        # Joined text can tokenize differently from its parts: count the rendered message.
        per_component[name] = message_tokens(message, count)
    history = by_name["history"].items
    # Each turn is its own message, so its candidate cost is already exact.
    per_component["history"] = sum(i.tokens for i in history)
    messages = [m for _, m in sections] + [history_message(i.body) for i in reversed(history)]
    return messages, per_component


def _cut_at_segment(history: Packed, inputs: Inputs) -> list[Candidate]:
    """When older turns were evicted, start the window at a topic boundary rather than in the
    middle of a topic, if the partial topic's turns are a small share of the window."""
    if not history.items or (inputs.history_complete and not history.excluded):
        return []
    oldest_first = [c.body for c in reversed(history.items)]
    slack = int(inputs.segment_slack * sum(c.tokens for c in history.items))
    n = partial_head(oldest_first, slack)
    return [history.items.pop() for _ in range(n)]


def _drop_orphan_tool_results(history: Packed) -> list[Candidate]:
    """The window may not start with tool results whose assistant tool call fell outside it:
    chat APIs reject a tool message that answers no visible call."""
    dropped = []
    while history.items and history.items[-1].body.role == "tool":
        dropped.append(history.items.pop())
    return dropped


def _drop_lowest(by_name: dict[str, Packed]) -> Candidate:
    """Drop the least valuable included item: oldest history turn first, then recall, facts."""
    for name in ("history", "recall", "retrieved", "facts", "summary", "state"):
        items = by_name[name].items
        if items:
            return items.pop()
    raise InvalidInput("the system prompt alone exceeds the budget", field="system_prompt")


def _items(by_name: dict[str, Packed]) -> list[dict[str, Any]]:
    """Included items in the order their content appears in `messages`."""
    out: list[dict[str, Any]] = []
    for name in COMPONENTS:
        packed = by_name[name].items
        for cand in reversed(packed) if name == "history" else packed:
            item: dict[str, Any] = {
                "kind": cand.kind,
                "id": cand.id,
                "component": name,
                "tokens": cand.tokens,
            }
            if cand.score is not None:
                item["score"] = round(cand.score, 6)
            if cand.version is not None:
                item["version"] = cand.version
            if isinstance(cand.body, Summary):
                s = cand.body
                item["covers"] = {
                    "first_id": s.first_id,
                    "last_id": s.last_id,
                    "first_seq": s.first_seq,
                    "last_seq": s.last_seq,
                    "messages": s.messages,
                }
            if isinstance(cand.body, ChunkHit):
                item["doc_id"], item["chunk"] = cand.body.doc_id, cand.body.chunk
                if cand.body.stale_s is not None:
                    item["stale_s"] = round(cand.body.stale_s, 3)
            out.append(item)
    return out


def _excluded(
    by_name: dict[str, Packed], trimmed: list[Candidate], duplicates: list[Candidate]
) -> list[dict[str, Any]]:
    out = [{"kind": c.kind, "id": c.id, "reason": "duplicate"} for c in duplicates]
    for name in COMPONENTS:
        out += [{"kind": c.kind, "id": c.id, "reason": "budget"} for c in by_name[name].excluded]
    out += [{"kind": c.kind, "id": c.id, "reason": "budget"} for c in trimmed]
    return out


def _system(content: str) -> ChatMessage:
    return {"role": "system", "content": content}


def _state_text(state: dict[str, Any]) -> str:
    return json.dumps(state, sort_keys=True, ensure_ascii=False)


def _fact_line(fact: Fact) -> str:
    return "\n- " + fact.text


def _chunk_line(chunk: ChunkHit) -> str:
    return f"\n- [{chunk.doc_id}] {chunk.text}"


def _recall_line(message: Message) -> str:
    when = message.created_at.strftime("%Y-%m-%d %H:%M")
    return f"\n- [{when}] {message.role}: {message.content}"
