"""The SDK's LangChain extra against a real `cmem serve`: chat history and retriever."""

from __future__ import annotations

import pytest
from coherent_memory_client import CoherentMemory, NotFound
from coherent_memory_client.langchain import CoherentMemoryChatHistory, CoherentMemoryRetriever
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from harness.served import Served

pytestmark = pytest.mark.slow


def test_chat_history_is_the_assembled_context(served_with_key: tuple[Served, str]) -> None:
    served, key = served_with_key
    with CoherentMemory(served.url, api_key=key) as memory:
        history = CoherentMemoryChatHistory(
            memory, "lc", "ana", budget_tokens=1024, system_prompt="Be brief."
        )
        question = HumanMessage("What's the weather in Lisbon?")
        call = AIMessage(
            "", tool_calls=[{"name": "weather", "args": {"city": "Lisbon"}, "id": "c1"}]
        )
        history.add_messages([question, call, ToolMessage("sunny, 24 C", tool_call_id="c1")])
        assert question.id  # written back: a retry sends the same id
        history.add_messages([question])  # the retry: stored once
        assert memory.get_session("lc").messages == 3
        memory.wait_until_indexed("lc", timeout=120)

        messages = history.messages
        assert isinstance(messages[0], SystemMessage)
        assert messages[0].content == "Be brief."
        assert [type(m) for m in messages[1:]] == [HumanMessage, AIMessage, ToolMessage]
        assert messages[2].tool_calls[0]["args"] == {"city": "Lisbon"}  # type: ignore[attr-defined]
        history.clear()
        with pytest.raises(NotFound):
            memory.get_session("lc")
        history.clear()  # clearing a cleared history is no error


def test_retriever_over_facts_and_documents(served_with_key: tuple[Served, str]) -> None:
    served, key = served_with_key
    with CoherentMemory(served.url, api_key=key) as memory:
        memory.put_document("gym", "The Riverside gym opens at 6 and closes at 23.", tags=["local"])
        memory.put_document("bakery", "The bakery on Rua Augusta sells pastel de nata.")
        fact = memory.remember_fact("ana", "Ana goes to the Riverside gym on Mondays", key="gym")
        retriever = CoherentMemoryRetriever(client=memory, user_id="ana", k=3)
        found = retriever.invoke("When can Ana go to the gym?")
        sources = {(d.metadata["source"], d.id) for d in found}
        assert ("fact", fact.id) in sources
        assert ("document", "gym#0") in sources
        assert [d.metadata["score"] for d in found] == sorted(
            (d.metadata["score"] for d in found), reverse=True
        )
        only_docs = CoherentMemoryRetriever(client=memory, k=2, tags=["local"]).invoke("gym hours")
        assert [d.id for d in only_docs] == ["gym#0"]
