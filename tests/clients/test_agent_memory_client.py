"""Redis's `agent-memory-client` 0.14.0, unchanged, against a real `cmem serve`: every call an
app makes, with the results checked (docs/compat.md lists them)."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from agent_memory_client import MemoryAPIClient, create_memory_client
from agent_memory_client.exceptions import MemoryNotFoundError, MemoryServerError
from agent_memory_client.filters import Entities, MemoryType, Namespace, Topics, UserId
from agent_memory_client.models import ClientMemoryRecord, MemoryMessage, WorkingMemory

from harness.served import CMEM, Served

pytestmark = [
    pytest.mark.slow,
    # get_or_create_working_memory calls the client's own deprecated get_working_memory.
    pytest.mark.filterwarnings("ignore:get_working_memory is deprecated:DeprecationWarning"),
]


def keyed(url: str, key: str) -> str:
    """The client has no header setting: the key rides in the base URL (httpx sends Basic)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://app:{key}@{parts.netloc}"


def tool_call(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI tool call as a chat completion returns it."""
    call = {"name": name, "arguments": json.dumps(arguments)}
    return {"id": f"call_{name}", "type": "function", "function": call}


def message(role: str, content: str) -> MemoryMessage:
    from datetime import UTC, datetime

    return MemoryMessage(role=role, content=content, created_at=datetime.now(UTC))


async def walk_working_memory(memory: MemoryAPIClient, served: Served, key: str) -> None:
    created, wm = await memory.get_or_create_working_memory("trip", user_id="ana")
    assert created
    assert (wm.session_id, wm.user_id, wm.messages, wm.data) == ("trip", "ana", [], {})
    created, _ = await memory.get_or_create_working_memory("trip", user_id="ana")
    assert not created

    turns = [
        message("user", "I want to visit Lisbon in May."),
        message("assistant", "Lisbon in May is lovely."),
    ]
    after = await memory.append_messages_to_working_memory("trip", turns, user_id="ana")
    assert [m.content for m in after.messages] == [t.content for t in turns]
    assert [m.id for m in after.messages] == [t.id for t in turns]
    third = message("user", "Book a hotel near the river.")
    after = await memory.append_messages_to_working_memory("trip", [third], user_id="ana")
    assert [m.content for m in after.messages][-1] == third.content
    assert len(after.messages) == 3

    data = await memory.set_working_memory_data("trip", {"city": "Lisbon"})
    assert data.data == {"city": "Lisbon"}
    assert len(data.messages) == 3  # preserved
    merged = await memory.update_working_memory_data("trip", {"budget": 2000}, user_id="ana")
    assert merged.data == {"city": "Lisbon", "budget": 2000}
    deep = await memory.update_working_memory_data(
        "trip", {"city": "Porto"}, merge_strategy="replace", user_id="ana"
    )
    assert deep.data == {"city": "Porto"}

    # A PUT replaces: the turns it leaves out are deleted from the session.
    kept = WorkingMemory(
        session_id="trip", messages=[turns[0]], data={"city": "Porto"}, user_id="ana"
    )
    replaced = await memory.put_working_memory("trip", kept)
    assert [m.content for m in replaced.messages] == [turns[0].content]
    with httpx.Client(base_url=served.url, headers={"X-API-Key": key}) as ours:
        log = ours.get("/v1/sessions/trip/messages").json()
        assert [m["content"] for m in log["messages"]] == [turns[0].content]
        assert ours.get("/v1/sessions/trip/state").json()["state"] == {"city": "Porto"}

    # Structured memories in working memory reach long-term memory under their own ids.
    note = ClientMemoryRecord(id="wm-peanuts", text="Ana is allergic to peanuts", user_id="ana")
    await memory.add_memories_to_working_memory("trip", [note])
    stored = await memory.get_long_term_memory("wm-peanuts")
    assert (stored.text, stored.user_id, stored.session_id) == (note.text, "ana", "trip")

    await memory.get_or_create_working_memory("work", user_id="ana", namespace="office")
    await memory.get_or_create_working_memory("chat", user_id="bo")
    listed = await memory.list_sessions(user_id="ana")
    assert set(listed.sessions) == {"trip", "office:work"}
    assert listed.total == 2
    assert (await memory.list_sessions(namespace="office")).sessions == ["work"]
    assert (await memory.list_sessions(user_id="bo")).sessions == ["chat"]
    everyone = await memory.list_sessions(limit=2)
    assert (len(everyone.sessions), everyone.total) == (2, 3)

    assert (await memory.delete_working_memory("chat")).status == "ok"
    with pytest.raises(MemoryNotFoundError):
        await memory.get_working_memory("chat")
    assert (await memory.list_sessions(user_id="bo")).sessions == []


async def walk_long_term(memory: MemoryAPIClient) -> None:
    records = [
        ClientMemoryRecord(
            id="m-diet",
            text="Ana is vegetarian and never eats meat",
            user_id="ana",
            topics=["food"],
            entities=["Ana"],
            memory_type="semantic",
        ),
        ClientMemoryRecord(
            id="m-city",
            text="Ana lives in Porto near the river",
            user_id="ana",
            topics=["home"],
            namespace="profile",
            memory_type="episodic",
        ),
        ClientMemoryRecord(id="m-shared", text="The office closes at six on Fridays"),
    ]
    assert (await memory.create_long_term_memory(records)).status == "ok"

    got = await memory.get_long_term_memory("m-diet")
    assert (got.id, got.text, got.topics, got.entities) == (
        "m-diet",
        records[0].text,
        ["food"],
        ["Ana"],
    )
    found = await memory.search_long_term_memory(
        "what food does Ana eat?", user_id=UserId(eq="ana"), limit=5
    )
    assert found.memories[0].id == "m-diet"
    assert 0 <= found.memories[0].dist < found.memories[-1].dist
    assert {m.id for m in found.memories} == {"m-diet", "m-city", "wm-peanuts"}
    only = await memory.search_long_term_memory(
        "where does Ana live?", user_id=UserId(eq="ana"), topics=Topics(any=["home"])
    )
    assert [m.id for m in only.memories] == ["m-city"]
    typed = await memory.search_long_term_memory(
        "Ana", user_id=UserId(eq="ana"), memory_type=MemoryType(eq="episodic")
    )
    assert [m.id for m in typed.memories] == ["m-city"]
    spaced = await memory.search_long_term_memory(
        "Ana", user_id={"eq": "ana"}, namespace=Namespace(eq="profile")
    )
    assert [m.id for m in spaced.memories] == ["m-city"]
    nobody = await memory.search_long_term_memory(
        "Ana", user_id=UserId(eq="ana"), entities=Entities(none=["Ana"]), topics={"none": ["home"]}
    )
    assert [m.id for m in nobody.memories] == ["wm-peanuts"]
    close = await memory.search_long_term_memory(
        "what food does Ana eat?",
        user_id=UserId(eq="ana"),
        distance_threshold=found.memories[0].dist,
    )
    assert [m.id for m in close.memories] == ["m-diet"]
    paged = await memory.search_long_term_memory("Ana", user_id=UserId(eq="ana"), limit=1, offset=1)
    assert (len(paged.memories), paged.total, paged.next_offset) == (1, 3, 2)
    shared = await memory.search_long_term_memory("when does the office close?")
    # No user filter: every user's memories, the one stored without a user nearest.
    assert shared.memories[0].id == "m-shared"
    assert shared.memories[0].user_id is None
    assert {m.user_id for m in shared.memories} == {None, "ana"}

    edited = await memory.edit_long_term_memory(
        "m-diet", {"text": "Ana is vegan", "topics": ["diet"]}
    )
    assert (edited.id, edited.text, edited.topics) == ("m-diet", "Ana is vegan", ["diet"])
    assert (await memory.get_long_term_memory("m-diet")).text == "Ana is vegan"
    # Created again under its id: overwritten, not a second memory.
    again = ClientMemoryRecord(id="m-city", text="Ana lives in Lisbon now", user_id="ana")
    await memory.create_long_term_memory([again])
    assert (await memory.get_long_term_memory("m-city")).text == again.text
    hits = await memory.search_long_term_memory("where does Ana live?", user_id=UserId(eq="ana"))
    assert [m.text for m in hits.memories].count(again.text) == 1
    assert "Ana lives in Porto near the river" not in [m.text for m in hits.memories]

    tool = await memory.search_memory_tool("Is Ana vegan?", user_id="ana", max_results=1)
    assert tool["memories"][0]["id"] == "m-diet"
    assert tool["memories"][0]["text"] == "Ana is vegan"
    assert 0 < tool["memories"][0]["relevance_score"] <= 1
    assert tool["has_more"]

    prompt = await memory.memory_prompt(
        "What should I eat in Lisbon?",
        session_id="trip",
        user_id="ana",
        long_term_search={"user_id": {"eq": "ana"}, "limit": 2},
    )
    text = json.dumps(prompt["messages"])
    assert "Ana is vegan" in text
    assert "I want to visit Lisbon in May." in text  # the session's turn
    assert prompt["messages"][-1] == {"role": "user", "content": "What should I eat in Lisbon?"}
    hydrated = await memory.hydrate_memory_prompt(
        "Is Ana allergic to anything?", user_id={"eq": "ana"}, limit=1
    )
    assert "Ana is allergic to peanuts" in hydrated["messages"][0]["content"]
    assert hydrated["messages"][-1]["content"] == "Is Ana allergic to anything?"

    batches = [
        [ClientMemoryRecord(id="m-b1", text="Ana plays the cello", user_id="ana")],
        [ClientMemoryRecord(id="m-b2", text="Ana runs on Sundays", user_id="ana")],
    ]
    acks = await memory.bulk_create_long_term_memories(batches, delay_between_batches=0)
    assert [a.status for a in acks] == ["ok", "ok"]
    every = [
        m.id
        async for m in memory.search_all_long_term_memories(
            "Ana", user_id=UserId(eq="ana"), batch_size=2
        )
    ]
    assert sorted(every) == ["m-b1", "m-b2", "m-city", "m-diet", "wm-peanuts"]
    # Working-memory memories are long-term already: nothing is left to promote.
    assert (await memory.promote_working_memories_to_long_term("trip")).status == "ok"
    assert (await memory.get_long_term_memory("wm-peanuts")).text == "Ana is allergic to peanuts"

    gone = await memory.delete_long_term_memories(["m-shared", "never-was"])
    assert gone.status == "ok, deleted 1 memories"
    with pytest.raises(MemoryNotFoundError):
        await memory.get_long_term_memory("m-shared")


async def walk_tool_calls(memory: MemoryAPIClient) -> None:
    """The LLM tool-call helpers resolve every memory tool against the server."""
    schemas = memory.get_all_memory_tool_schemas()
    names = {s["function"]["name"] for s in schemas.to_list()}
    assert {"search_memory", "eagerly_create_long_term_memory"} <= names
    calls = [
        tool_call("get_or_create_working_memory", {}),
        tool_call("update_working_memory_data", {"data": {"seat": "window"}}),
        tool_call(
            "lazily_create_long_term_memory",
            {"text": "Ana prefers window seats", "memory_type": "semantic"},
        ),
        tool_call(
            "eagerly_create_long_term_memory",
            {
                "memories": [
                    {
                        "id": "m-tool",
                        "text": "Ana always flies with the airline TAP",
                        "topics": ["travel"],
                    }
                ]
            },
        ),
        tool_call("search_memory", {"query": "which airline does Ana fly with?", "max_results": 1}),
        tool_call("get_long_term_memory", {"memory_id": "m-tool"}),
        tool_call(
            "edit_long_term_memory",
            {"memory_id": "m-tool", "text": "Ana always flies with the airline KLM"},
        ),
        tool_call("delete_long_term_memories", {"memory_ids": ["m-tool"]}),
        tool_call("get_current_datetime", {}),
    ]
    results = await memory.resolve_tool_calls(calls, session_id="flight", user_id="ana")
    assert [r["success"] for r in results] == [True] * len(calls), results
    got = {r["function_name"]: r["result"] for r in results}
    assert got["get_or_create_working_memory"]["created"] is True
    assert got["search_memory"]["memories"][0]["text"] == "Ana always flies with the airline TAP", (
        got["search_memory"]
    )
    assert got["get_long_term_memory"]["memory"].text == "Ana always flies with the airline TAP"
    assert got["edit_long_term_memory"]["memory"].text == "Ana always flies with the airline KLM"
    assert got["delete_long_term_memories"]["status"] == "ok, deleted 1 memories"
    state = await memory.get_working_memory_tool("flight", user_id="ana")
    assert state["data"] == {"seat": "window"}
    window = await memory.search_long_term_memory("seat preference", user_id=UserId(eq="ana"))
    assert "Ana prefers window seats" in [m.text for m in window.memories]

    one = await memory.resolve_function_call(
        "search_memory", '{"query": "is Ana vegan?", "max_results": 1}', "flight", user_id="ana"
    )
    assert one["success"]
    assert one["result"]["memories"][0]["text"] == "Ana is vegan"
    anthropic = {"type": "tool_use", "id": "t1", "name": "get_long_term_memory", "input": {}}
    refused = await memory.resolve_tool_call(anthropic, session_id="flight")
    assert not refused["success"]  # no memory_id: the client's own check
    missing = await memory.resolve_function_call(
        "get_long_term_memory", {"memory_id": "m-tool"}, "flight"
    )
    assert not missing["success"]
    assert "not found" in (missing["error"] or "").lower()


def test_agent_memory_client_works_unchanged(served_with_key: tuple[Served, str]) -> None:
    served, key = served_with_key

    async def run() -> None:
        async with await create_memory_client(keyed(served.url, key)) as memory:
            assert (await memory.health_check()).now > 0
            await walk_working_memory(memory, served, key)
            await walk_long_term(memory)
            await walk_tool_calls(memory)

    asyncio.run(run())


def test_keys_and_tenants_are_enforced(served_with_key: tuple[Served, str]) -> None:
    """No key: 401 in AMS's `detail` shape; another tenant's key sees nothing of this one."""
    served, key = served_with_key
    data_dir = served_data_dir(served)
    other = subprocess.run(
        [CMEM, "keys", "create", "--tenant", "other", "--role", "client", "--data-dir", data_dir],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()

    async def run() -> None:
        async with await create_memory_client(keyed(served.url, key)) as mine:
            await mine.create_long_term_memory([ClientMemoryRecord(id="secret", text="Ana's PIN")])
            await mine.get_or_create_working_memory("private", user_id="ana")
        async with await create_memory_client(served.url) as keyless:
            with pytest.raises(MemoryServerError) as refused:
                await keyless.list_sessions()
            assert refused.value.status_code == 401
            assert "API key" in str(refused.value)
        async with await create_memory_client(keyed(served.url, other)) as theirs:
            with pytest.raises(MemoryNotFoundError):
                await theirs.get_long_term_memory("secret")
            assert (await theirs.list_sessions()).sessions == []
            with pytest.raises(MemoryNotFoundError):
                await theirs.get_working_memory("private")
            found = await theirs.search_long_term_memory("PIN")
            assert found.memories == []

    asyncio.run(run())
    r = httpx.put(
        served.url + "/v1/working-memory/x",
        json={"messages": [{"role": "wizard", "content": "hi"}]},
        headers={"X-API-Key": key},
    )
    assert r.status_code == 422
    assert r.json() == {
        "detail": "messages.0.role: role must be one of user, assistant, system, developer, tool"
    }


def served_data_dir(served: Served) -> str:
    args = served.proc.args
    assert isinstance(args, list)
    return str(Path(args[args.index("--data-dir") + 1]))
