"""Rank fusion: reciprocal ranks, and the hybrid relevance every source shares."""

from __future__ import annotations

from service.domain.ranking import RRF_K, fuse, fuse_hybrid, rank_alone


def test_fuse_sums_weighted_reciprocal_ranks() -> None:
    scores = fuse([["a", "b"], ["b"]], [1.0, 2.0])
    assert scores == {"a": 1 / (RRF_K + 1), "b": 1 / (RRF_K + 2) + 2 / (RRF_K + 1)}


def test_hybrid_relevance_is_normalized_and_similarity_bounded() -> None:
    dense = [("a", 0.9), ("b", 0.7), ("c", 0.4)]
    sparse = [("b", 12.0), ("d", 3.0)]
    ranked = fuse_hybrid(dense, sparse, 3)
    assert [r.id for r in ranked] == ["b", "a", "d"]
    # First in one list and second in the other: just under 1.0 (first in both).
    assert ranked[0].relevance == (1 / (RRF_K + 2) + 1 / (RRF_K + 1)) / (2 / (RRF_K + 1))
    assert ranked[0].similarity == 0.7
    # Outside the dense list: at most as similar as its last hit.
    assert ranked[2].similarity == 0.4
    assert fuse_hybrid([], [], 5) == []


def test_one_ranking_alone_is_on_the_same_scale() -> None:
    """A search asked one way only (the second round's sparse search): its first hit is 1.0,
    as first in both lists is; the rest fall off as reciprocal ranks do."""
    ranked = rank_alone(["x", "y", "z"], 2)
    assert [r.id for r in ranked] == ["x", "y"]
    assert ranked[0].relevance == 1.0
    assert ranked[1].relevance == (RRF_K + 1) / (RRF_K + 2)
    assert rank_alone([], 3) == []
