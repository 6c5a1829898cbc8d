"""BM25-style sparse vectors: exact-term matching next to dense similarity.

Terms are Snowball-stemmed (Porter 2). Documents carry BM25 term weights (saturated term
frequency with length normalisation); queries carry 1.0 per distinct term. The vector store
multiplies in the IDF (the collection's sparse vector has the IDF modifier), so score = sum
over shared terms of idf * bm25-weight. A turn's speaker name is a term of fixed weight.
Terms hash to 32-bit indices (crc32): stable across processes and versions, no vocabulary to
keep; a collision only ever merges two rare terms' weights.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer

_WORD = re.compile(r"\w+", re.UNICODE)
_MAX_TERM_CHARS = 40  # longer "words" are ids, hashes or base64: keep them, truncated

_STOPWORDS_TEXT = """
a an and are as at be been but by can could did do does for
from had has have he her him his how i if in into is it its
me my no not of on or our she so than that the their them then
there these they this those to was we were what when where which who whom why
will with would you your
"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())


@dataclass(frozen=True, slots=True)
class SparseVector:
    """Sorted, distinct term indices with their weights."""

    indices: tuple[int, ...]
    values: tuple[float, ...]

    def __bool__(self) -> bool:
        return bool(self.indices)


@dataclass(frozen=True, slots=True)
class Bm25:
    """BM25 document-side parameters; avg_len is the typical length in terms of the texts."""

    k1: float = 1.2
    b: float = 0.75
    avg_len: float = 120.0


SHORT_TEXT = Bm25(avg_len=20.0)  # turns and facts; chunks use the default


_SNOWBALL = snowballstemmer.stemmer("english")


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    """Snowball's English stemmer (Porter 2), cached per word."""
    return str(_SNOWBALL.stemWord(word))


@lru_cache(maxsize=65536)
def _light_stem(word: str) -> str:
    """The plural stripper terms were stemmed with before Snowball (stored vectors keep it)."""
    for suffix, replacement in (("ies", "y"), ("sses", "ss"), ("'s", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) + len(replacement) >= 3:
            if suffix == "s" and word.endswith(("ss", "us", "is")):
                return word
            return word[: len(word) - len(suffix)] + replacement
    return word


def _words(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKC", text).casefold()
    return [
        w[:_MAX_TERM_CHARS]
        for w in _WORD.findall(folded)
        if w not in STOPWORDS and not (len(w) == 1 and not w.isdigit())
    ]


def terms(text: str) -> list[str]:
    """Normalised terms in order: NFKC, case-folded, stopwords out, Snowball-stemmed."""
    return [_stem(w) for w in _words(text)]


@lru_cache(maxsize=65536)
def term_index(term: str) -> int:
    return zlib.crc32(term.encode("utf-8"))


def _vector(weights: dict[int, float]) -> SparseVector:
    ordered = sorted(weights.items())
    return SparseVector(tuple(i for i, _ in ordered), tuple(v for _, v in ordered))


def encode_document(text: str, params: Bm25 = Bm25()) -> SparseVector:
    """BM25 term weights of a stored text (IDF is applied by the store at query time)."""
    found = terms(text)
    if not found:
        return SparseVector((), ())
    norm = params.k1 * (1 - params.b + params.b * len(found) / params.avg_len)
    weights: dict[int, float] = {}
    for term, tf in Counter(found).items():
        index = term_index(term)
        weights[index] = weights.get(index, 0.0) + tf * (params.k1 + 1) / (tf + norm)
    return _vector(weights)


# A turn's speaker name is one term at this fixed weight, apart from its text's BM25 weights.
# As a word of the text it was saturated and length-normalized like any other: a question
# naming a speaker ("what did Caroline research?") matched every turn of hers, the shortest
# first ("Wow! What got you into running?"), and those filled the sparse ranking's places
# after the few turns that match what is asked. At a fixed 0.3 the name orders turns that
# match the same words and no longer ranks a turn by itself. Measured on
# bench/recall_quality.py: +2 to +4 points at 256-512 tokens on two LoCoMo conversations in
# both modes, the generated corpora within one question (0.1: the same).
NAME_WEIGHT = 0.3


# A turn also holds the words of the turn right before it, at this share of their weights
# there: a reply often says nothing of its topic ("It has been great for my mental health",
# after "What got you into running?"). Measured on bench/recall_quality.py, two LoCoMo
# conversations: +0.5 to +4.7 points at every budget in both modes; the generated corpora
# within one question (0.3: half the gain; 0.7: generated -1 to -3 points).
CONTEXT_WEIGHT = 0.5


def encode_turn(
    name: str | None, content: str, params: Bm25 = SHORT_TEXT, before: str = ""
) -> SparseVector:
    """A turn's terms: its content's BM25 weights, the words of the turn `before` it at
    CONTEXT_WEIGHT of theirs (its own weight where that is more), and its speaker's name at
    NAME_WEIGHT."""
    body = encode_document(content, params)
    weights = dict(zip(body.indices, body.values, strict=True))
    prior = encode_document(before, params)
    for index, value in zip(prior.indices, prior.values, strict=True):
        weights[index] = max(weights.get(index, 0.0), CONTEXT_WEIGHT * value)
    for term in set(terms(name or "")):
        index = term_index(term)
        weights[index] = weights.get(index, 0.0) + NAME_WEIGHT
    return _vector(weights)


# A capitalized word that does not open a sentence, or a word with a digit in it.
_BRIDGE = re.compile(r"(?<![.!?]\s)(?<!^)\b([A-Z][\w'-]*|\w*\d\w*)")


def bridges(text: str) -> str:
    """The words of a text that can link it to another turn: names and numbers ("Found out
    Marek reports to Theo Tanaka now. The dog barked all morning." -> "Marek Theo Tanaka"). A
    text's other words are mostly what many turns share; a sentence's first word is
    capitalized whatever it is."""
    return " ".join(m.group(0) for m in _BRIDGE.finditer(text.strip()))


def encode_query(text: str) -> SparseVector:
    """1.0 per distinct query term: the store's IDF does the weighting. Each word is also
    asked for in its light stem, as vectors stored before Snowball hold it (where the two
    agree, that is one term)."""
    words = _words(text)
    found = {_stem(w) for w in words} | {_light_stem(w) for w in words}
    return _vector({term_index(t): 1.0 for t in found})
