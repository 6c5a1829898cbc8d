"""Budget packing: never over budget; history is always the newest contiguous suffix."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from service.domain.budget import Candidate, Component, pack

costs = st.lists(st.integers(min_value=1, max_value=60), max_size=25)


def _cands(kind: str, sizes: list[int]) -> list[Candidate]:
    return [Candidate(kind, f"{kind}{i}", n) for i, n in enumerate(sizes)]


@settings(max_examples=300, deadline=None)
@given(
    system=st.integers(min_value=0, max_value=40),
    facts=costs,
    recall=costs,
    history=costs,
    share_f=st.floats(min_value=0, max_value=1),
    share_r=st.floats(min_value=0, max_value=1),
    minimum=st.integers(min_value=0, max_value=100),
    frame=st.integers(min_value=0, max_value=10),
    available=st.integers(min_value=0, max_value=800),
)
def test_pack_never_exceeds_budget_and_keeps_newest_history(
    system: int,
    facts: list[int],
    recall: list[int],
    history: list[int],
    share_f: float,
    share_r: float,
    minimum: int,
    frame: int,
    available: int,
) -> None:
    comps = [
        Component(
            "system", _cands("s", [system] if system else []), frame_tokens=frame, fixed=True
        ),
        Component("facts", _cands("f", facts), minimum=minimum, share=share_f, frame_tokens=frame),
        Component("recall", _cands("r", recall), share=share_r, frame_tokens=frame),
        Component("history", _cands("h", history), contiguous=True),
    ]
    packed = pack(comps, available)
    assert sum(p.tokens for p in packed) <= available
    hist = packed[3]
    # Newest first: the included turns are exactly a prefix of the newest-first list.
    assert [c.id for c in hist.items] == [f"h{i}" for i in range(len(hist.items))]
    # Nothing is lost from the account: every candidate is either included or excluded.
    for comp, p in zip(comps, packed, strict=True):
        assert sorted(c.id for c in p.items + p.excluded) == sorted(c.id for c in comp.candidates)


def test_unused_share_flows_to_the_next_component() -> None:
    comps = [
        Component("facts", _cands("f", [10]), share=0.5),
        Component("recall", _cands("r", [30, 30, 30]), share=0.2),
        Component("history", _cands("h", [10] * 3), contiguous=True),
    ]
    packed = pack(comps, 100)
    # facts used 10 of its 50; the 40 left flow to recall (20 + 40 = 60 -> two items).
    assert len(packed[1].items) == 2
    assert len(packed[2].items) == 3


def test_leftover_goes_back_to_earlier_components() -> None:
    comps = [
        Component("facts", _cands("f", [20, 20, 20]), share=0.2),
        Component("history", _cands("h", [10]), contiguous=True),
    ]
    packed = pack(comps, 100)
    assert len(packed[0].items) == 3  # 20 by share, the rest from what history left
    assert sum(p.tokens for p in packed) == 70


def test_history_stops_at_first_turn_that_does_not_fit() -> None:
    comps = [Component("history", _cands("h", [10, 50, 5, 5]), contiguous=True)]
    packed = pack(comps, 30)
    assert [c.id for c in packed[0].items] == ["h0"]
    assert [c.id for c in packed[0].excluded] == ["h1", "h2", "h3"]


def test_frame_is_paid_once_and_only_with_items() -> None:
    comps = [Component("facts", _cands("f", [5, 5]), share=1.0, frame_tokens=7)]
    assert pack(comps, 16)[0].tokens == 12
    assert pack(comps, 17)[0].tokens == 17
    assert pack(comps, 11)[0].items == []


def test_fixed_components_do_not_inflate_later_shares() -> None:
    comps = [
        Component("system", _cands("s", [10]), fixed=True),
        Component("recall", _cands("r", [10] * 20), share=0.25),
        Component("history", _cands("h", [10] * 20), contiguous=True),
    ]
    packed = pack(comps, 200)
    assert len(packed[0].items) == 1
    # 25 % of the 190 tokens left after the system prompt, not the system's leftover.
    assert len(packed[1].items) == 4
    assert len(packed[2].items) == 15  # history gets everything else
