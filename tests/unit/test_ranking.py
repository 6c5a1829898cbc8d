"""Rank fusion: reciprocal ranks, and the follow-up rounds of recall."""

from __future__ import annotations

from service.domain.ranking import RRF_K, fuse, fuse_rounds


def test_fuse_sums_weighted_reciprocal_ranks() -> None:
    scores = fuse([["a", "b"], ["b"]], [1.0, 2.0])
    assert scores == {"a": 1 / (RRF_K + 1), "b": 1 / (RRF_K + 2) + 2 / (RRF_K + 1)}


def test_follow_ups_that_agree_cannot_push_the_best_first_hit_down() -> None:
    # Seen in CI: "what is my passport number" found the passport turn first; the follow-up
    # seeded by it found it again, the one seeded by a filler turn did not, and plain fusion
    # ranked nine fillers (in all three lists) above the answer (in two).
    first = ["answer"] + [f"filler{i}" for i in range(9)]
    follow_ups = [first[:], [f"filler{i}" for i in range(9)] + ["other"]]
    plain = fuse([first, *follow_ups], [1.0] * 3)
    assert max(plain, key=lambda i: plain[i]) != "answer"  # the flaw this guards against
    scores = fuse_rounds(first, follow_ups)
    ranked = sorted(scores, key=lambda i: -scores[i])
    assert ranked[0] == "answer"
    # Below the lead, agreement still counts: what both follow-ups found outranks the rest.
    assert ranked[1:10] == [f"filler{i}" for i in range(9)]
    assert ranked[-1] == "other"


def test_follow_ups_may_add_hits_the_first_search_missed() -> None:
    scores = fuse_rounds(["a", "b"], [["c", "a"], ["c"]])
    assert set(scores) == {"a", "b", "c"}
    assert scores["c"] > scores["b"]  # found by both follow-ups: a second-hop turn rises
    assert fuse_rounds([], []) == {}
