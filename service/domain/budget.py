"""Budget packing, pure: one mechanism for everything that competes for the budget.

Every flexible item (a recalled or recent turn, the summary, a fact, a document chunk) carries a
value on one scale and its cost in tokens. Items are taken in order of
`value / tokens ** DENSITY_EXPONENT`, each that still fits (a section's header, and a group's
within it, is paid once, by its first item), so a cheap item still fills a gap a dearer one
leaves. Guaranteed items are not packed here: the caller takes them first and packs the rest
into what they leave.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# 1 is pure value per token, 0 value order (then the skip-and-continue fill uses what is left).
# Measured on bench/recall_quality.py (evidence-complete rate, both modes): 1 loses 20-30
# points at 256-512 tokens, 0.5 and 0.25 lose 5-15 points at 256 against 0, 0.1 loses 3-9.
# Evidence turns are often longer than the turns around them: per token they look worse.
DENSITY_EXPONENT = 0.0


@dataclass(frozen=True, slots=True)
class Candidate:
    """An item that may enter the context: its cost for the target model (as rendered in its
    section) and its value on the one scale every source shares."""

    kind: str
    id: str
    tokens: int
    value: float = 0.0
    section: str = ""  # the rendered section it goes into (pays that section's header once)
    score: float | None = None  # its relevance to the query, as reported in `items`
    version: str | None = None
    body: Any = None
    group: str = ""  # a sub-header within its section (a day of recalled turns), paid once too


def density(cand: Candidate) -> float:
    return float(cand.value / max(1, cand.tokens) ** DENSITY_EXPONENT)


def pack(
    candidates: Sequence[Candidate], available: int, frames: Mapping[str, int]
) -> tuple[list[Candidate], list[Candidate]]:
    """Choose candidates by value per token within `available` tokens, headers included.

    Returns (chosen, left out), both in the order they were considered (best first); the
    chosen ones' tokens plus their sections' frames never exceed `available`."""
    if available < 0:
        raise ValueError("available must be >= 0")
    ranked = sorted(candidates, key=lambda c: (-density(c), -c.value, c.id))
    chosen: list[Candidate] = []
    left: list[Candidate] = []
    opened: set[str] = set()
    used = 0
    for cand in ranked:
        cost = cand.tokens + sum(
            frames.get(key, 0) for key in (cand.section, cand.group) if key not in opened
        )
        if used + cost <= available:
            chosen.append(cand)
            opened.update((cand.section, cand.group))
            used += cost
        else:
            left.append(cand)
    return chosen, left
