"""Budget packing: never over budget, headers paid once, filled by value per token."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from service.domain.budget import Candidate, pack

SECTIONS = ("facts", "recall", "history")


@settings(max_examples=300, deadline=None)
@given(
    items=st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=80),
            st.floats(min_value=0, max_value=2),
            st.sampled_from(SECTIONS),
        ),
        max_size=30,
    ),
    frame=st.integers(min_value=0, max_value=12),
    available=st.integers(min_value=0, max_value=600),
)
def test_pack_never_exceeds_budget_and_accounts_for_every_candidate(
    items: list[tuple[int, float, str]], frame: int, available: int
) -> None:
    cands = [Candidate("x", f"c{i}", t, v, s) for i, (t, v, s) in enumerate(items)]
    frames = dict.fromkeys(SECTIONS, frame)
    chosen, left = pack(cands, available, frames)
    spent = sum(c.tokens for c in chosen) + frame * len({c.section for c in chosen})
    assert spent <= available
    assert sorted(c.id for c in chosen + left) == sorted(c.id for c in cands)
    # Nothing left out would still have fitted (the budget is filled).
    opened = {c.section for c in chosen}
    for c in left:
        assert spent + c.tokens + (0 if c.section in opened else frame) > available


def test_value_decides_and_what_is_left_is_filled() -> None:
    long_strong = Candidate("x", "long", 90, 1.0, "recall")
    short_good = [Candidate("x", f"s{i}", 10, 0.6, "recall") for i in range(9)]
    chosen, _ = pack([long_strong, *short_good], 95, {})
    assert [c.id for c in chosen] == ["long"]  # the strong item first, whatever its length
    chosen, _ = pack([long_strong, *short_good], 100, {})
    assert [c.id for c in chosen] == ["long", "s0"]  # then whatever still fits
    chosen, _ = pack([long_strong, *short_good], 80, {})
    assert len(chosen) == 8  # the strong item does not fit: the gap is filled


def test_a_section_header_is_paid_once_by_its_first_item() -> None:
    cands = [Candidate("x", f"c{i}", 10, 1.0, "facts") for i in range(3)]
    chosen, left = pack(cands, 35, {"facts": 5})
    assert len(chosen) == 3
    assert not left
    chosen, left = pack(cands, 34, {"facts": 5})
    assert len(chosen) == 2
    assert len(left) == 1
