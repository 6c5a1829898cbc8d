"""Chat messages as OpenAI's chat API takes them (the same keys and types as the `openai`
package's `ChatCompletionMessageParam`, without depending on it): what a context serves can be
passed to `chat.completions.create(messages=...)` as it is."""

from __future__ import annotations

from typing import Literal, NotRequired

# pydantic needs typing_extensions.TypedDict before Python 3.12.
from typing_extensions import TypedDict


class TextPart(TypedDict):
    type: Literal["text"]
    text: str


class Function(TypedDict):
    name: str
    arguments: str  # JSON, as the model wrote it


class FunctionToolCall(TypedDict):
    id: str
    type: Literal["function"]
    function: Function


class Custom(TypedDict):
    name: str
    input: str


class CustomToolCall(TypedDict):
    id: str
    type: Literal["custom"]
    custom: Custom


ToolCall = FunctionToolCall | CustomToolCall
Content = str | list[TextPart]


class SystemMessage(TypedDict):
    role: Literal["system"]
    content: Content
    name: NotRequired[str]


class DeveloperMessage(TypedDict):
    role: Literal["developer"]
    content: Content
    name: NotRequired[str]


class UserMessage(TypedDict):
    role: Literal["user"]
    content: Content
    name: NotRequired[str]


class AssistantMessage(TypedDict):
    role: Literal["assistant"]
    content: Content | None
    name: NotRequired[str]
    tool_calls: NotRequired[list[ToolCall]]


class ToolMessage(TypedDict):
    role: Literal["tool"]
    content: Content
    tool_call_id: str


ChatMessage = SystemMessage | DeveloperMessage | UserMessage | AssistantMessage | ToolMessage
