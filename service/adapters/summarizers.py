"""Summarizers: the built-in extractive one, and any OpenAI-compatible chat endpoint.

The LLM summarizer has a timeout and falls back to the extractive summarizer on any failure
(unreachable, timeout, HTTP error, malformed reply, over the token target), so compaction
never stalls on a remote model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import httpx
import structlog

from service.domain.models import Message
from service.domain.summaries import extractive_summary

log = structlog.get_logger()

PROMPT = (
    "You maintain a running summary of a conversation. Merge the previous summary and the new "
    "turns into one summary of at most {target} tokens. Keep every name, number, date and "
    "decision; drop small talk. Answer with the summary text only."
)


class ExtractiveSummarizer:
    """Deterministic and offline: the highest-value sentences within the token target."""

    name = "extractive"

    def __init__(self, count: Callable[[str], int]) -> None:
        self._count = count

    def summarize(self, previous: str, turns: Sequence[Message], target_tokens: int) -> str:
        return extractive_summary(previous, turns, target_tokens, self._count)


class OpenAISummarizer:
    """Chat completions at `base_url` (…/v1); falls back to `fallback` on any failure."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str,
        timeout_s: float,
        fallback: ExtractiveSummarizer,
        count: Callable[[str], int],
    ) -> None:
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._model = model
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._timeout = timeout_s
        self._fallback = fallback
        self._count = count
        self.name = f"llm:{model}"

    def summarize(self, previous: str, turns: Sequence[Message], target_tokens: int) -> str:
        transcript = "\n".join(f"{t.name or t.role}: {t.content}" for t in turns)
        body = {
            "model": self._model,
            "temperature": 0,
            "max_tokens": target_tokens,
            "messages": [
                {"role": "system", "content": PROMPT.format(target=target_tokens)},
                {
                    "role": "user",
                    "content": f"Previous summary:\n{previous or '(none)'}\n\nNew turns:\n"
                    f"{transcript}",
                },
            ],
        }
        try:
            r = httpx.post(self._url, json=body, headers=self._headers, timeout=self._timeout)
            r.raise_for_status()
            text = str(r.json()["choices"][0]["message"]["content"]).strip()
            if not text:
                raise ValueError("empty summary")
            if self._count(text) > target_tokens:
                raise ValueError(f"summary over the {target_tokens}-token target")
            return text
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
            log.warning("summarizer.fallback", model=self._model, error=repr(exc))
            return self._fallback.summarize(previous, turns, target_tokens)
