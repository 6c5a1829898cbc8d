"""The SDK against a real `cmem serve`: sync and async, typed answers and errors, API keys,
retries on 503, `wait_until_indexed`."""

from __future__ import annotations

import asyncio
import typing

import httpx
import pytest
from coherent_memory_client import (
    AsyncCoherentMemory,
    CoherentMemory,
    Conflict,
    InvalidInput,
    NotFound,
    PreconditionFailed,
    StoreUnavailable,
    Unauthenticated,
)
from openai.types.chat import ChatCompletionMessageParam
from pydantic import TypeAdapter

from harness.served import Served

pytestmark = pytest.mark.slow

CALL = {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": "{}"}}


def test_walk_through_sync(served_with_key: tuple[Served, str]) -> None:
    served, key = served_with_key
    with CoherentMemory(served.url, api_key=key) as memory:
        appended = memory.append_messages(
            "s1",
            "ana",
            [
                {"role": "user", "content": "My locker combination at the gym is 31-7-22."},
                {"role": "assistant", "content": None, "tool_calls": [CALL]},
                {"role": "tool", "content": "sunny", "tool_call_id": "c1"},
            ],
        )
        assert appended.appended == 3
        assert len(set(appended.message_ids)) == 3
        again = memory.append_messages(
            "s1", "ana", [{"id": appended.message_ids[0], "role": "user", "content": "x"}]
        )
        assert again.duplicates == 1
        session = memory.wait_until_indexed("s1", timeout=120)
        assert (session.messages, session.indexed, session.pending) == (3, 3, 0)

        fact = memory.remember_fact("ana", "Ana is vegetarian", key="diet")
        assert (fact.status, fact.key) == ("active", "diet")
        with pytest.raises(Conflict):  # the writing session is sent: s1 is Ana's, not Bo's
            memory.remember_fact("bo", "Bo is vegan", key="diet", session_id="s1")
        found = memory.search_facts("ana", "what does Ana eat?")
        # The locker code may have been learned from the first turn by now: another key.
        assert [f.id for f in found if f.key == "diet"] == [fact.id]
        with pytest.raises(PreconditionFailed):
            memory.delete_fact(fact.id, if_match=fact.version + 1)
        assert memory.set_state("s1", {"task": "plan a dinner"}) == {"task": "plan a dinner"}

        context = memory.get_context(
            "s1", "ana", 1024, query="what is my locker code?", system_prompt="Be brief."
        )
        assert context.usage.total <= 1024
        assert "31-7-22" in str(context.messages)
        diet = memory.get_context("s1", "ana", 1024, query="Is Ana vegetarian?")
        assert "Ana is vegetarian" in str(diet.messages)
        TypeAdapter(list[ChatCompletionMessageParam]).validate_python(context.messages)
        assert memory.get_snapshot(context.snapshot_id)["context_hash"] == context.context_hash
        page = memory.list_messages("s1")
        assert [m.content for m in page.messages][1] is None

        with pytest.raises(Conflict) as conflict:
            memory.append_messages("s1", "bo", [{"role": "user", "content": "hi"}])
        assert conflict.value.field == "user_id"
        assert conflict.value.status == 409
        with pytest.raises(InvalidInput) as invalid:
            memory.append_messages("s1", "ana", [{"role": "user", "tool_calls": [{"x": 1}]}])
        assert invalid.value.field is not None
        assert "tool_calls" in invalid.value.field
        with pytest.raises(NotFound):
            memory.get_session("nope")
        memory.delete_session("s1")
        with pytest.raises(NotFound):
            memory.get_session("s1")


def test_documents_and_jobs_async(served_with_key: tuple[Served, str]) -> None:
    served, key = served_with_key

    async def run() -> None:
        async with AsyncCoherentMemory(served.url, api_key=key) as memory:
            written = await memory.put_document(
                "manual",
                "The lobby opens at 7 and closes at 22.",
                tags=["hotel"],
                policy="write_behind",
            )
            assert written.status == "pending"
            assert written.job_id
            for _ in range(600):
                job = await memory.get_job(written.job_id)
                if job.state in ("done", "failed"):
                    break
                await asyncio.sleep(0.1)
            assert job.state == "done", job
            document = await memory.get_document("manual")
            assert (document.status, document.tags) == ("live", ["hotel"])
            assert [d.doc_id for d in await memory.list_documents(tag="hotel")] == ["manual"]
            await memory.append_messages(
                "a1", "ana", [{"role": "user", "content": "When does the lobby open?"}]
            )
            await memory.wait_until_indexed("a1", timeout=120)
            context = await memory.get_context("a1", "ana", 800, tags=["hotel"])
            assert any(i.kind == "chunk" for i in context.items)
            await memory.delete_document("manual")
            with pytest.raises(NotFound):
                await memory.get_document("manual")

    asyncio.run(run())


def test_keys_are_sent_and_checked(served_with_key: tuple[Served, str]) -> None:
    served, _ = served_with_key
    with CoherentMemory(served.url, api_key="cmem_wrong") as memory, pytest.raises(Unauthenticated):
        memory.list_facts("ana")


def test_503_is_retried_with_backoff_then_raised() -> None:
    """A store that comes back: the third attempt succeeds; one that stays down: typed error."""
    seen: list[int] = []
    down = {
        "error": {
            "code": "store_unavailable",
            "message": "redis is down",
            "details": {"store": "redis"},
        }
    }

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(1)
        if len(seen) < 3:
            return httpx.Response(503, json=down)
        return httpx.Response(200, json={"state": {"ok": True}})

    http = httpx.Client(base_url="http://memory", transport=httpx.MockTransport(answer))
    memory = CoherentMemory(http=http, backoff_s=0.001)
    assert memory.get_state("s") == {"ok": True}
    assert len(seen) == 3

    always = httpx.Client(
        base_url="http://memory",
        transport=httpx.MockTransport(lambda r: httpx.Response(503, json=down)),
    )
    with pytest.raises(StoreUnavailable) as error:
        CoherentMemory(http=always, max_retries=2, backoff_s=0.001).get_state("s")
    assert error.value.details == {"store": "redis"}


def test_context_messages_are_typed_as_openai_params() -> None:
    """The SDK's message type has the keys of the openai package's, role by role."""
    from coherent_memory_client import messages as ours

    theirs = {
        typing.get_type_hints(t)["role"].__args__[0]: t
        for t in typing.get_args(ChatCompletionMessageParam)
    }
    for mine in typing.get_args(ours.ChatMessage):
        role = typing.get_type_hints(mine)["role"].__args__[0]
        assert set(mine.__annotations__) <= set(theirs[role].__annotations__), role


def test_a_fact_write_sends_what_it_was_based_on() -> None:
    from coherent_memory_client import calls

    call = calls.remember_fact("ana", "Ana eats fish", "diet", None, "f1", "s1")
    assert call.json == {
        "user_id": "ana",
        "text": "Ana eats fish",
        "key": "diet",
        "based_on": "f1",
        "session_id": "s1",
    }
    assert "based_on" not in calls.remember_fact("ana", "x", None, None).json
