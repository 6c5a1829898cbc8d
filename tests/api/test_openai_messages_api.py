"""OpenAI message fidelity: what OpenAI's chat API takes is accepted, what it refuses is refused
with the field named, and a turn comes back from /v1/context in the form it was sent."""

from __future__ import annotations

import typing
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openai.types.chat import ChatCompletionMessageParam
from pydantic import ConfigDict, TypeAdapter, ValidationError, with_config

from service.domain.models import NewMessage
from service.runtime.container import Container
from tests.api.conftest import wait_indexed

CALL = {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}
CONVERSATION: list[dict[str, Any]] = [
    {"id": "d1", "role": "developer", "content": "Answer in one sentence."},
    {
        "id": "u1",
        "role": "user",
        "content": [
            {"type": "text", "text": "What is the weather"},
            {"type": "text", "text": "in Lisbon today?"},
        ],
    },
    {"id": "a1", "role": "assistant", "content": None, "tool_calls": [CALL]},
    {
        "id": "t1",
        "role": "tool",
        "tool_call_id": "call_1",
        "content": [{"type": "text", "text": "sunny, 24 C"}],
    },
    {
        "id": "a2",
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "call_2", "type": "custom", "custom": {"name": "note", "input": "sunny"}}
        ],
    },
    {"id": "t2", "role": "tool", "tool_call_id": "call_2", "content": "noted"},
    {"id": "a3", "role": "assistant", "content": "It is sunny, 24 C.", "name": "bot"},
]


def _strict(typed: Any) -> Any:
    """OpenAI's TypedDict, closed: a key it does not define is an error (OpenAI refuses it)."""
    return with_config(ConfigDict(extra="forbid"))(typed)


def _openai_message_adapter() -> TypeAdapter[Any]:
    # Each member of the union closed: pydantic ignores unknown TypedDict keys by default.
    members = [_strict(m) for m in typing.get_args(ChatCompletionMessageParam)]
    return TypeAdapter(list[typing.Union[tuple(members)]])  # type: ignore[misc]  # noqa: UP007


def _append(api: TestClient, session: str, messages: list[dict[str, Any]]) -> Any:
    return api.post(f"/v1/sessions/{session}/messages", json={"user_id": "u", "messages": messages})


def test_context_messages_are_openai_chat_message_params(api: TestClient) -> None:
    r = _append(api, "s", CONVERSATION)
    assert r.status_code == 201, r.text
    wait_indexed(api, "s")
    ctx = api.post(
        "/v1/context",
        json={
            "session_id": "s",
            "user_id": "u",
            "budget_tokens": 2000,
            "system_prompt": "You are terse.",
        },
    ).json()
    messages = ctx["messages"]
    _openai_message_adapter().validate_python(messages)
    served = [m for m in messages if m.get("tool_calls") or m["role"] in ("developer", "tool")]
    assert {"role": "developer", "content": "Answer in one sentence."} in messages
    assert CONVERSATION[1]["content"] in [m["content"] for m in messages], messages
    calls = [m for m in served if m["role"] == "assistant"]
    assert [m["content"] for m in calls] == [None, None]
    assert calls[0]["tool_calls"] == [CALL]
    assert calls[1]["tool_calls"][0]["custom"] == {"name": "note", "input": "sunny"}
    assert [m["content"] for m in served if m["role"] == "tool"] == [
        [{"type": "text", "text": "sunny, 24 C"}],
        "noted",
    ]


def test_the_log_serves_turns_in_the_form_they_were_sent(api: TestClient) -> None:
    assert _append(api, "s", CONVERSATION).status_code == 201
    page = api.get("/v1/sessions/s/messages").json()["messages"]
    assert [m["content"] for m in page] == [m["content"] for m in CONVERSATION]
    assert [m["role"] for m in page] == [m["role"] for m in CONVERSATION]
    assert page[2]["tool_calls"] == [CALL]


def test_the_strict_adapter_catches_what_openai_refuses() -> None:
    """The check above can fail: a tool turn with `name`, a user turn with tool calls."""
    adapter = _openai_message_adapter()
    with pytest.raises(ValidationError):
        adapter.validate_python([{"role": "user", "content": "hi", "tool_calls": [CALL]}])
    with pytest.raises(ValidationError):
        adapter.validate_python([{"role": "tool", "content": "x"}])


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ({"role": "assistant", "content": None, "tool_calls": [{"foo": 1}]}, "tool_calls.0"),
        (
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f"}}],
            },
            "tool_calls.0.function.arguments",
        ),
        (
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{**CALL, "function": {"name": "f", "arguments": {"a": 1}}}],
            },
            "tool_calls.0.function.arguments",
        ),
        (
            {"role": "assistant", "content": None, "tool_calls": [{**CALL, "x": 1}]},
            "tool_calls.0.x",
        ),
        ({"role": "user", "content": [{"type": "image_url", "image_url": {}}]}, "content"),
        ({"role": "user", "content": [{"type": "text"}]}, "content"),
    ],
)
def test_malformed_openai_shapes_are_422_naming_the_field(
    api: TestClient, message: dict[str, Any], field: str
) -> None:
    r = _append(api, "s", [message])
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_input"
    assert error["field"].startswith("messages.0.")
    assert error["field"] == "messages.0." + field, error
    assert api.get("/v1/sessions/s").status_code == 404  # nothing stored


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ({"role": "user", "content": "hi", "tool_calls": [CALL]}, "messages[0].tool_calls"),
        ({"role": "user", "content": None}, "messages[0].content"),
        ({"role": "tool", "content": None, "tool_call_id": "c"}, "messages[0].content"),
        ({"role": "tool", "content": "x", "tool_call_id": "c", "name": "n"}, "messages[0].name"),
        ({"role": "user", "content": "x", "tool_call_id": "c"}, "messages[0].tool_call_id"),
    ],
)
def test_what_openai_refuses_per_role_is_422(
    api: TestClient, message: dict[str, Any], field: str
) -> None:
    r = _append(api, "s", [message])
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == field


def test_content_parts_are_counted_and_recalled_as_text(api: TestClient) -> None:
    parts = [{"type": "text", "text": "my locker code is 31-7-22"}]
    assert _append(api, "s", [{"id": "p", "role": "user", "content": parts}]).status_code == 201
    wait_indexed(api, "s")
    found = api.post(
        "/v1/context",
        json={"session_id": "s", "user_id": "u", "budget_tokens": 500, "query": "locker code"},
    ).json()
    item = next(i for i in found["items"] if i["id"] == "p")
    assert item["tokens"] > 5
    assert {"role": "user", "content": parts} in found["messages"]


def test_turns_stored_before_validation_are_still_served(
    api: TestClient, container: Container
) -> None:
    """A tool call stored before calls were validated (any JSON object) is listed as stored."""
    legacy = NewMessage(role="assistant", content="", id="old", tool_calls=[{"foo": 1}])
    stamp = datetime.now(UTC)
    container.services.sessions.append("default", "s", "u", [(legacy, "old", stamp, 5)], "")
    r = api.get("/v1/sessions/s/messages")
    assert r.status_code == 200, r.text
    assert r.json()["messages"][0]["tool_calls"] == [{"foo": 1}]
