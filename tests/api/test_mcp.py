"""MCP: the tools over the real stores, through mcp's own in-memory client, and `/mcp` over
streamable HTTP with the API's keys."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi.testclient import TestClient
from mcp import Client
from mcp.types import CallToolResult

from service.api.mcp import build_mcp
from service.domain.models import Principal
from service.runtime.container import Container
from workers.runner import WorkerRunner

LOCAL = Principal(tenant="local", roles=frozenset({"client"}))


def _data(result: CallToolResult) -> Any:
    assert not result.is_error, result.content
    return result.structured_content


def test_tools_in_memory(container: Container, worker: WorkerRunner) -> None:
    server = build_mcp(container.services, container.keys, LOCAL)

    async def run() -> None:
        async with Client(server) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            assert names == {
                "get_context",
                "append_messages",
                "remember_fact",
                "search_memory",
                "forget_fact",
            }
            turns = [
                {"id": "t1", "role": "user", "content": "My locker code at the gym is 31-7-22."},
                {"id": "t2", "role": "assistant", "content": "Noted."},
            ]
            appended = _data(
                await client.call_tool(
                    "append_messages", {"session_id": "s", "user_id": "ana", "messages": turns}
                )
            )
            assert appended["appended"] == 2
            fact = _data(
                await client.call_tool(
                    "remember_fact", {"user_id": "ana", "text": "Ana is vegetarian", "key": "diet"}
                )
            )
            found = _data(
                await client.call_tool("search_memory", {"user_id": "ana", "query": "diet"})
            )
            # The locker code may have been learned from t1 by now: another key.
            assert [f["id"] for f in found["facts"] if f["key"] == "diet"] == [fact["id"]]
            ctx = _data(
                await client.call_tool(
                    "get_context", {"session_id": "s", "user_id": "ana", "query": "locker code"}
                )
            )
            assert "31-7-22" in json.dumps(ctx["messages"])
            forgot = await client.call_tool("forget_fact", {"fact_id": fact["id"]})
            assert _data(forgot) == {"deleted": fact["id"]}
            again = await client.call_tool("forget_fact", {"fact_id": fact["id"]})
            assert again.is_error
            assert "not_found" in again.content[0].text  # type: ignore[union-attr]
            bad = await client.call_tool(
                "append_messages",
                {
                    "session_id": "s",
                    "user_id": "ana",
                    "messages": [{"role": "robot", "content": "x"}],
                },
            )
            assert bad.is_error

    asyncio.run(run())
    # The tools ran as the process's own tenant: the API of tenant `local` sees the turns.
    assert container.services.sessions.info("local", "s") is not None
    assert container.services.sessions.info("default", "s") is None


def test_http_mcp_needs_a_key_and_scopes_the_tenant(api: TestClient, container: Container) -> None:
    key = container.keys.create("acme", "client")
    call = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {
            "name": "remember_fact",
            "arguments": {"user_id": "ana", "text": "Ana lives in Porto", "key": "home"},
        },
    }
    headers = {
        "accept": "application/json, text/event-stream",
        "host": "127.0.0.1:8080",
        "mcp-protocol-version": "2025-06-18",
    }
    refused = api.post("/mcp", json=call, headers=headers)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "unauthenticated"
    r = api.post("/mcp", json=call, headers={**headers, "Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text
    assert r.json()["result"]["structuredContent"]["text"] == "Ana lives in Porto"
    facts = api.get("/v1/facts?user_id=ana", headers={"X-API-Key": key}).json()["facts"]
    assert [f["text"] for f in facts] == ["Ana lives in Porto"]
