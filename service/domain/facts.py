"""Fact rules: when two statements are the same fact (and so are merged, not stored twice)."""

from __future__ import annotations

import re

# Cosine similarity at or above which two statements may be the same fact.
DUPLICATE_SIMILARITY = 0.97
_NUMBER = re.compile(r"\d+(?:[.,:/-]\d+)*")


def is_near_duplicate(new: str, existing: str, similarity: float) -> bool:
    """Same fact: nearly the same meaning and exactly the same numbers.

    Embeddings barely move when one digit changes ("PIN is 1234" vs "PIN is 1235"), and those
    are different facts, so numbers must match exactly.
    """
    return similarity >= DUPLICATE_SIMILARITY and _NUMBER.findall(new) == _NUMBER.findall(existing)
