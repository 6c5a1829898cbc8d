"""HashingEmbedder: a deterministic bag-of-words embedder for tests and model-free runs."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from itertools import pairwise

_WORD = re.compile(r"[a-z0-9]+")


class HashingEmbedder:
    """Implements Embedder by hashing words (and word pairs) into signed buckets; unit length."""

    def __init__(self, dimension: int = 384, model_name: str = "hashing-384") -> None:
        self._dim = dimension
        self._name = model_name

    @property
    def model_name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dim

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [self._embed_one(t) for t in texts]

    def _embed_one(self, text: str) -> list[float]:
        vec = [0.0] * self._dim
        words = _WORD.findall(text.lower())
        for feature in words + [a + " " + b for a, b in pairwise(words)]:
            digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
            bucket = int.from_bytes(digest[:4], "little") % self._dim
            vec[bucket] += 1.0 if digest[4] & 1 else -1.0
        norm = math.sqrt(sum(x * x for x in vec))
        if norm == 0:
            vec[0] = 1.0
            return vec
        return [x / norm for x in vec]
