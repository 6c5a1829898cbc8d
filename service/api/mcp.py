"""The MCP server: a small tool set an LLM uses well, over the same use cases as the API.

Served at `/mcp` (streamable HTTP, stateless, the API's keys) and by `cmem mcp` over stdio.
Over HTTP the tenant comes from the request's key; over stdio (no headers) from the process.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import partial
from typing import Annotated, Any, TypeVar

import anyio
from fastapi import FastAPI
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from pydantic import Field
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from service.api.deps import KEYLESS, authenticate
from service.api.errors import error_body
from service.api.schemas import FactOut, Id, MessageIn
from service.domain.errors import MemoryServiceError, Unauthenticated
from service.domain.models import Principal
from service.ports import ApiKeys
from service.usecases import facts, sessions
from service.usecases.context import ContextRequest, assemble_context
from service.usecases.services import Services

T = TypeVar("T")

INSTRUCTIONS = (
    "Long-term memory for conversations. Before answering, call get_context with the "
    "session and user to receive the messages to send to the model (recent turns, a summary "
    "of older ones, facts about the user, relevant documents), within a token budget. After "
    "each exchange, call append_messages. Use remember_fact for durable facts about the user "
    "(a `key` such as `diet` makes a newer fact replace an older one), search_memory to look "
    "facts up, forget_fact to delete one."
)


def build_mcp(svc: Services, keys: ApiKeys, local: Principal) -> MCPServer:
    """The MCP server over `svc`; `local` is the caller when a transport has no headers."""
    server = MCPServer(name="coherent-memory", instructions=INSTRUCTIONS, version="0.1.0")

    async def run(ctx: Context, use_case: Callable[..., T], *args: Any) -> T:
        """The use case in a worker thread, as the caller's tenant; its errors as tool errors
        the model can read (`not_found: fact 'x' not found`)."""
        headers = ctx.headers
        try:
            caller = local if headers is None else authenticate(keys, headers)
            return await anyio.to_thread.run_sync(partial(use_case, svc, caller.tenant, *args))
        except MemoryServiceError as exc:
            field = f" ({exc.field})" if exc.field else ""
            raise ToolError(f"{exc.code}: {exc.message}{field}") from exc

    @server.tool()
    async def get_context(
        session_id: Id,
        user_id: Id,
        ctx: Context,
        query: str | None = None,
        budget_tokens: Annotated[int, Field(gt=0)] = 2000,
        model: str | None = None,
    ) -> dict[str, Any]:
        """The messages to send to the model for the next turn of a conversation: recent
        turns, a summary of older ones, facts about the user and relevant documents, within
        `budget_tokens`. `query` defaults to the session's last user message."""
        request = ContextRequest(
            session_id=session_id,
            user_id=user_id,
            budget_tokens=budget_tokens,
            query=query,
            model=model,
        )
        assembled = await run(ctx, assemble_context, request)
        return {
            "messages": assembled.messages,
            "tokens": assembled.total,
            "snapshot_id": assembled.snapshot_id,
            "degraded": assembled.degraded,
        }

    @server.tool()
    async def append_messages(
        session_id: Id, user_id: Id, messages: list[MessageIn], ctx: Context
    ) -> dict[str, Any]:
        """Store conversation turns (OpenAI chat messages; an `id` makes a retry harmless)."""
        turns = [m.to_domain() for m in messages]
        result = await run(ctx, sessions.append_messages, session_id, user_id, turns)
        return {
            "appended": result.appended,
            "duplicates": result.duplicates,
            "ids": result.message_ids,
        }

    @server.tool()
    async def remember_fact(
        user_id: Id, text: str, ctx: Context, key: Id | None = None
    ) -> dict[str, Any]:
        """Remember a durable fact about the user. Facts with the same `key` (e.g. `diet`,
        `home_city`) replace each other; the older one is kept as history."""
        done = await run(ctx, facts.remember_fact, user_id, text, key, {})
        return {
            **FactOut.model_validate(done.fact).model_dump(mode="json"),
            "created": done.created,
        }

    @server.tool()
    async def search_memory(
        user_id: Id, query: str, ctx: Context, limit: Annotated[int, Field(ge=1, le=50)] = 5
    ) -> dict[str, Any]:
        """The user's facts most relevant to `query`, best first, each with its score."""
        found = await run(ctx, facts.search_facts, user_id, query, limit)
        return {
            "facts": [
                {
                    **FactOut.model_validate(f.fact).model_dump(mode="json"),
                    "score": f.score,
                    "similarity": f.similarity,
                }
                for f in found
            ]
        }

    @server.tool()
    async def forget_fact(fact_id: Id, ctx: Context) -> dict[str, Any]:
        """Delete a fact (by the `id` that remember_fact or search_memory returned)."""
        await run(ctx, facts.delete_fact, fact_id, None)
        return {"deleted": fact_id}

    return server


class KeyedMcp:
    """`/mcp` over streamable HTTP: a request without a valid key (once keys exist) is refused
    with the API's 401 before it reaches the MCP session."""

    def __init__(self, server: MCPServer, keys: ApiKeys) -> None:
        self.server = server
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            authenticate(self.keys, Headers(scope=scope))
        except Unauthenticated as exc:
            body = error_body(exc.code, exc.message)
            response = JSONResponse(body, 401, headers={"WWW-Authenticate": "Bearer"})
            await response(scope, receive, send)
            return
        # The session manager of the app's current run (see mount_mcp).
        await StreamableHTTPASGIApp(self.server.session_manager)(scope, receive, send)


def mount_mcp(
    app: FastAPI, svc: Services, keys: ApiKeys
) -> Callable[[], AbstractAsyncContextManager[None]]:
    """Serve MCP at `/mcp` (stateless streamable HTTP, JSON answers). Returns what the app's
    lifespan must run: MCP's session manager, a new one per run (each runs only once)."""
    server = build_mcp(svc, keys, KEYLESS)
    app.add_route("/mcp", KeyedMcp(server, keys), methods=["GET", "POST", "DELETE"])  # type: ignore[arg-type]

    @asynccontextmanager
    async def running() -> AsyncIterator[None]:
        # DNS-rebinding protection is on when bound to loopback.
        server.streamable_http_app(stateless_http=True, json_response=True, host=svc.settings.host)
        async with server.session_manager.run():
            yield

    return running
