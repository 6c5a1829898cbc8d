"""LangChain integration (`pip install coherent-memory-client[langchain]`): a chat history
whose messages are the assembled context, and a retriever over facts and documents."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.chat_history import BaseChatMessageHistory
from langchain_core.documents import Document
from langchain_core.messages import BaseMessage, convert_to_messages, convert_to_openai_messages
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from coherent_memory_client.client import CoherentMemory, ContextOptions
from coherent_memory_client.errors import NotFound


class CoherentMemoryChatHistory(BaseChatMessageHistory):
    """A session as LangChain chat history. `messages` is the context the service assembles
    for the next call (recent turns, summary, facts, documents, within `budget_tokens`), not
    the raw log; `add_messages` appends with each message's `id` (generated when absent, and
    written back to the message) so a retried append stores nothing twice."""

    def __init__(
        self,
        client: CoherentMemory,
        session_id: str,
        user_id: str,
        budget_tokens: int = 4096,
        **options: Any,
    ) -> None:
        self.client = client
        self.session_id = session_id
        self.user_id = user_id
        self.budget_tokens = budget_tokens
        self.options: ContextOptions = ContextOptions(**options)  # type: ignore[typeddict-item]

    @property
    def messages(self) -> list[BaseMessage]:  # type: ignore[override]
        context = self.client.get_context(
            self.session_id, self.user_id, self.budget_tokens, **self.options
        )
        return convert_to_messages(context.messages)  # type: ignore[arg-type]

    def add_messages(self, messages: Sequence[BaseMessage]) -> None:
        for message in messages:
            message.id = message.id or uuid.uuid4().hex
        turns = [
            {**turn, "id": message.id}
            for turn, message in zip(
                convert_to_openai_messages(list(messages)), messages, strict=True
            )
        ]
        self.client.append_messages(self.session_id, self.user_id, turns)

    def clear(self) -> None:
        """Delete the session (its log, working memory, snapshots and vectors)."""
        with contextlib.suppress(NotFound):
            self.client.delete_session(self.session_id)


class CoherentMemoryRetriever(BaseRetriever):
    """The user's facts and the tenant's document chunks most relevant to a query, as
    LangChain documents (`metadata["source"]` is `fact` or `document`), best first."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    client: CoherentMemory
    user_id: str | None = None  # facts of this user; None: documents only
    k: int = 4
    tags: list[str] = []
    doc_ids: list[str] = []
    documents: bool = True

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        found: list[Document] = []
        if self.user_id is not None:
            found += [
                Document(
                    page_content=f.text,
                    id=f.id,
                    metadata={"source": "fact", "score": f.score, "key": f.key, **f.metadata},
                )
                for f in self.client.search_facts(self.user_id, query, self.k)
            ]
        if self.documents:
            found += [
                Document(
                    page_content=c.text,
                    id=f"{c.doc_id}#{c.chunk}",
                    metadata={
                        "source": "document",
                        "score": c.score,
                        "doc_id": c.doc_id,
                        "version": c.version,
                        "chunk": c.chunk,
                    },
                )
                for c in self.client.search_documents(query, self.k, self.tags, self.doc_ids)
            ]
        found.sort(key=lambda d: -(d.metadata["score"] or 0.0))
        return found[: self.k]
