"""Chunking by tokens with overlap, preferring paragraph, then sentence boundaries.

Pure: the caller passes a token counter and a hard splitter for the target encoding. The chunker
configuration is part of a document version's hash, so changing it makes a new version.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass

from service.domain.chat_format import CountFn

# Splits text into pieces of at most n tokens (for a sentence longer than a whole chunk).
HardSplitFn = Callable[[str, int], list[str]]

_PARAGRAPHS = re.compile(r"\n\s*\n")
_SENTENCES = re.compile(r"(?<=[.!?])\s+(?=\S)")


@dataclass(frozen=True, slots=True)
class ChunkerConfig:
    """How documents are cut; hashed into every document version."""

    max_tokens: int = 256
    overlap_tokens: int = 32
    encoding: str = "cl100k_base"

    def __post_init__(self) -> None:
        if self.max_tokens < 8:
            raise ValueError("max_tokens must be at least 8")
        if not 0 <= self.overlap_tokens < self.max_tokens // 2:
            raise ValueError("overlap_tokens must be >= 0 and less than half of max_tokens")

    def fingerprint(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


@dataclass(frozen=True, slots=True)
class Chunk:
    """One chunk of a document version: its position, text and content hash."""

    index: int
    text: str
    tokens: int

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


def document_version(text: str, config: ChunkerConfig, embedding_model: str) -> str:
    """Content hash of what decides the chunks and their vectors."""
    h = hashlib.sha256()
    for part in (text, config.fingerprint(), embedding_model):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:32]


def chunk_text(
    text: str, config: ChunkerConfig, count: CountFn, hard_split: HardSplitFn
) -> list[Chunk]:
    """Greedy packing of paragraphs, else sentences, else token slices, with overlap.

    Sizes are checked on the joined text: token counts are not additive across a join.
    """
    chunks: list[Chunk] = []
    current: list[str] = []
    for unit in _units(text, config.max_tokens, count, hard_split):
        if current and count(_join([*current, unit])) > config.max_tokens:
            chunks.append(_chunk(len(chunks), current, count))
            current = _overlap(current, config.overlap_tokens, count)
            if current and count(_join([*current, unit])) > config.max_tokens:
                current = []
        current.append(unit)
    if current:
        chunks.append(_chunk(len(chunks), current, count))
    return chunks


def _units(text: str, max_tokens: int, count: CountFn, hard_split: HardSplitFn) -> list[str]:
    """Paragraphs, else their sentences, else token slices: each at most `max_tokens`."""
    units: list[str] = []
    for paragraph in _PARAGRAPHS.split(text.strip()):
        paragraph = paragraph.strip()
        if not paragraph:
            continue
        if count(paragraph) <= max_tokens:
            units.append(paragraph)
            continue
        for sentence in _SENTENCES.split(paragraph):
            if count(sentence) <= max_tokens:
                units.append(sentence)
            else:
                units += hard_split(sentence, max_tokens)
    return units


def _overlap(units: list[str], budget: int, count: CountFn) -> list[str]:
    """The trailing units of a chunk that fit in the overlap budget start the next chunk."""
    kept: list[str] = []
    for unit in reversed(units):
        if count(_join([unit, *kept])) > budget:
            break
        kept.insert(0, unit)
    return kept


def _join(units: list[str]) -> str:
    return "\n".join(units)


def _chunk(index: int, units: list[str], count: CountFn) -> Chunk:
    body = _join(units)
    return Chunk(index=index, text=body, tokens=count(body))
