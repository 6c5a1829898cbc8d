"""`cmem mcp`: the embedded service over MCP stdio, driven by mcp's own stdio client."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from harness.served import CMEM, SHARED_MODEL_DIR

pytestmark = pytest.mark.slow


def test_cmem_mcp_over_stdio(tmp_path: Path) -> None:
    env = {**os.environ, "CMEM_LOG_FORMAT": "json"}
    if os.environ.get(SHARED_MODEL_DIR):
        env["CMEM_MODEL_DIR"] = os.environ[SHARED_MODEL_DIR]
    params = StdioServerParameters(
        command=CMEM, args=["mcp", "--data-dir", str(tmp_path), "--tenant", "acme"], env=env
    )

    async def run() -> None:
        async with Client(params, read_timeout_seconds=120) as client:
            tools = {t.name for t in (await client.list_tools()).tools}
            assert "get_context" in tools
            turns = [{"id": "t1", "role": "user", "content": "I parked on level 3, spot 42."}]
            r = await client.call_tool(
                "append_messages", {"session_id": "s", "user_id": "ana", "messages": turns}
            )
            assert not r.is_error, r.content
            r = await client.call_tool(
                "remember_fact", {"user_id": "ana", "text": "Ana drives a blue Fiat", "key": "car"}
            )
            assert not r.is_error, r.content
            r = await client.call_tool(
                "get_context", {"session_id": "s", "user_id": "ana", "query": "where did I park?"}
            )
            assert not r.is_error, r.content
            assert "spot 42" in json.dumps(r.structured_content)

    asyncio.run(run())
