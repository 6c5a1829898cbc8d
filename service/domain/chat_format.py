"""Exact token accounting of chat messages, given a text counter for the target model.

OpenAI's published accounting for the cl100k/o200k chat models: every message costs 3 tokens of
framing plus its fields; a `name` costs one more; the reply is primed with 3 tokens. Tool calls
have no published formula: we count their JSON, which is what the model receives.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING = 3

CountFn = Callable[[str], int]
ChatMessage = dict[str, Any]
# Text parts are joined with this into a turn's text (what is counted, embedded, summarized).
PART_SEPARATOR = "\n"


def wire_content(text: str, null: bool, parts: Sequence[str] | None) -> str | list[Any] | None:
    """A turn's `content` in the form the client sent it: a string, `null`, or text parts."""
    if null:
        return None
    if parts is not None:
        return [{"type": "text", "text": part} for part in parts]
    return text


def content_text(content: str | list[Any] | None) -> str:
    """The text of a chat message's `content`, whichever form it has."""
    if content is None or isinstance(content, str):
        return content or ""
    return PART_SEPARATOR.join(str(part.get("text", "")) for part in content)


def message_tokens(message: ChatMessage, count: CountFn) -> int:
    """Tokens one chat message costs, framing included."""
    total = (
        TOKENS_PER_MESSAGE + count(message["role"]) + count(content_text(message.get("content")))
    )
    if message.get("name"):
        total += TOKENS_PER_NAME + count(message["name"])
    if message.get("tool_calls"):
        total += count(json.dumps(message["tool_calls"], separators=(",", ":"), sort_keys=True))
    if message.get("tool_call_id"):
        total += count(message["tool_call_id"])
    return total


def messages_tokens(messages: Sequence[ChatMessage], count: CountFn) -> int:
    """Tokens a whole request of chat messages costs, reply priming included."""
    if not messages:
        return 0
    return REPLY_PRIMING + sum(message_tokens(m, count) for m in messages)
