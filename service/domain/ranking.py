"""Rank fusion, pure: several ranked lists of ids into one score per id (reciprocal rank fusion)."""

from __future__ import annotations

from collections.abc import Sequence

RRF_K = 60  # as Qdrant's own fusion


def fuse(lists: Sequence[Sequence[str]], weights: Sequence[float]) -> dict[str, float]:
    """score(id) = sum over lists of weight / (RRF_K + rank), rank from 1."""
    scores: dict[str, float] = {}
    for ranked, weight in zip(lists, weights, strict=True):
        for rank, item in enumerate(ranked, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (RRF_K + rank)
    return scores
