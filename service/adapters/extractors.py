"""Fact extractors: the built-in rule set, and any OpenAI-compatible chat endpoint.

The LLM extractor asks for JSON that follows a schema (`response_format: json_schema`), has a
timeout, and falls back to the rules on any failure (unreachable, timeout, HTTP error, reply
that is not the schema, a source id that is not one of the turns), so extraction never stalls
on a remote model.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import httpx
import structlog

from service.domain.extraction import ExtractedFact, extract_from_turns
from service.domain.facts import message_source
from service.domain.models import Message

log = structlog.get_logger()

PROMPT = (
    "Extract long-term facts the user states about themselves from the user turns below: "
    "identity and attributes (name, age, job, where they live), preferences and dislikes, "
    "possessions and pets, relationships, plans with dates, and changes. Skip questions, "
    "hypotheticals, quoted or reported speech, and small talk; what others do counts only as a "
    "relationship of the user ('my sister lives in Rome'). Give each fact a slot key such as "
    "user.location, user.diet, user.job, user.pet.dog.name, user.sister.location, "
    "user.likes.<thing>, so a later statement on the same slot replaces an earlier one; a short "
    "third-person text ('User lives in Porto.'); and the id of the turn it came from."
)

SCHEMA: dict[str, Any] = {
    "name": "facts",
    "strict": True,
    "schema": {
        "type": "object",
        "additionalProperties": False,
        "required": ["facts"],
        "properties": {
            "facts": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["key", "text", "message_id"],
                    "properties": {
                        "key": {"type": "string"},
                        "text": {"type": "string"},
                        "message_id": {"type": "string"},
                    },
                },
            }
        },
    },
}

_KEY = re.compile(r"^user(?:\.[a-z0-9_]{1,48}){1,4}$")
MAX_FACT_TEXT = 300


class RuleExtractor:
    """Deterministic and offline: the rule set in `service.domain.extraction`."""

    name = "rules"

    def extract(self, turns: Sequence[Message]) -> list[ExtractedFact]:
        return extract_from_turns(turns)


class OpenAIExtractor:
    """Chat completions at `base_url` (…/v1) with a JSON-schema reply; falls back to `fallback`
    on any failure."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str,
        timeout_s: float,
        fallback: RuleExtractor,
    ) -> None:
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._model = model
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._timeout = timeout_s
        self._fallback = fallback
        self.name = f"llm:{model}"

    def extract(self, turns: Sequence[Message]) -> list[ExtractedFact]:
        said = [t for t in turns if t.role == "user" and t.content.strip()]
        if not said:
            return []
        transcript = "\n".join(f"[{t.id}] {t.content}" for t in said)
        body = {
            "model": self._model,
            "temperature": 0,
            "response_format": {"type": "json_schema", "json_schema": SCHEMA},
            "messages": [
                {"role": "system", "content": PROMPT},
                {"role": "user", "content": f"User turns:\n{transcript}"},
            ],
        }
        try:
            r = httpx.post(self._url, json=body, headers=self._headers, timeout=self._timeout)
            r.raise_for_status()
            reply = json.loads(str(r.json()["choices"][0]["message"]["content"]))
            return _parse(reply, {t.id: t for t in said})
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
            log.warning("extractor.fallback", model=self._model, error=repr(exc))
            return self._fallback.extract(turns)


def _parse(reply: Any, turns: dict[str, Message]) -> list[ExtractedFact]:
    """The schema's facts, checked: a bad key, text or turn id rejects the whole reply."""
    if not isinstance(reply, dict) or not isinstance(reply.get("facts"), list):
        raise ValueError("reply is not {'facts': [...]}")
    out: list[ExtractedFact] = []
    for item in reply["facts"]:
        if not isinstance(item, dict):
            raise ValueError("a fact is not an object")
        key, text, message_id = item.get("key"), item.get("text"), item.get("message_id")
        if not isinstance(key, str) or not _KEY.match(key):
            raise ValueError(f"bad slot key {key!r}")
        if not isinstance(text, str) or not 0 < len(text.strip()) <= MAX_FACT_TEXT:
            raise ValueError("fact text empty or too long")
        turn = turns.get(message_id) if isinstance(message_id, str) else None
        if turn is None:
            raise ValueError(f"message_id {message_id!r} is not one of the turns")
        source = message_source(turn.session_id, turn.id)
        out.append(ExtractedFact(key, text.strip(), (source,), turn.created_at))
    return out
