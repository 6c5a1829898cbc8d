"""Rank fusion, pure: ranked lists of ids into one score per id (reciprocal rank fusion)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# Reciprocal rank fusion's k, here and in the stores' own fusion. The usual 60 flattens the
# top: first in one list and absent from the other scored below 20th in both, and at a tight
# budget only the first few hits fit. Measured on bench/recall_quality.py (evidence-complete
# rate, both service modes): 15 against 60, +1 to +5 points at 256-2,048 tokens on the
# generated corpora and +2 to +7 on two LoCoMo conversations; 10 and 20 alike, 30 half of it.
RRF_K = 15


def fuse(lists: Sequence[Sequence[str]], weights: Sequence[float]) -> dict[str, float]:
    """score(id) = sum over lists of weight / (RRF_K + rank), rank from 1."""
    scores: dict[str, float] = {}
    for ranked, weight in zip(lists, weights, strict=True):
        for rank, item in enumerate(ranked, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (RRF_K + rank)
    return scores


@dataclass(frozen=True, slots=True)
class Ranked:
    """A hit of a hybrid search: where the fused ranks put it, and how similar it is."""

    id: str
    # Fused reciprocal ranks over the dense and the sparse list, normalized so that first in
    # both is 1.0: the same scale for every source searched this way.
    relevance: float
    # Cosine similarity to the query. A hit outside the dense list gets that list's lowest
    # score, which bounds its own from above.
    similarity: float


def fuse_hybrid(
    dense: Sequence[tuple[str, float]], sparse: Sequence[tuple[str, float]], limit: int
) -> list[Ranked]:
    """The best `limit` hits of a dense and a sparse ranking (id, score; best first)."""
    lists = [[i for i, _ in dense], [i for i, _ in sparse]]
    scores = fuse(lists, [1.0, 1.0])
    best = 2.0 / (RRF_K + 1)
    cosine = dict(dense)
    floor = dense[-1][1] if dense else 0.0
    ranked = sorted(scores, key=lambda i: (-scores[i], i))[:limit]  # ties: by id, every time
    return [Ranked(i, scores[i] / best, cosine.get(i, floor)) for i in ranked]


def rank_alone(ranked: Sequence[str], limit: int) -> list[Ranked]:
    """The best `limit` hits of one ranking on `fuse_hybrid`'s scale (first is 1.0), for a
    search asked one way only. No cosine similarity: 0.0."""
    return [
        Ranked(i, (RRF_K + 1) / (RRF_K + rank), 0.0) for rank, i in enumerate(ranked[:limit], 1)
    ]
