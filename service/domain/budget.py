"""Budget packing: choose items per component so the context never exceeds its budget.

Components come in priority order. Fixed ones (system prompt, working memory) take what they
need first. Each other one has a minimum and a share of the budget left after them; what
one leaves unused flows to the next, and whatever is still free after the last one is offered back
to the earlier ones in order. A component pays its frame (header message) once, only if it
includes at least one item. A contiguous component (recent history) stops at the first item that
does not fit, so the window is always the newest suffix of the conversation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Candidate:
    """An item that may enter the context, with its cost in tokens for the target model."""

    kind: str
    id: str
    tokens: int
    score: float | None = None
    version: str | None = None
    body: Any = None


@dataclass(frozen=True, slots=True)
class Component:
    """One component of the context and the candidates for it, best first."""

    name: str
    candidates: list[Candidate]
    minimum: int = 0
    share: float = 0.0
    frame_tokens: int = 0
    contiguous: bool = False
    # Fixed components (system prompt, working memory) take what they need, before any share,
    # and pass nothing on: their leftover is not a share of theirs.
    fixed: bool = False


@dataclass(slots=True)
class Packed:
    """What packing chose for one component."""

    name: str
    items: list[Candidate] = field(default_factory=list)
    excluded: list[Candidate] = field(default_factory=list)
    frame_tokens: int = 0

    @property
    def tokens(self) -> int:
        if not self.items:
            return 0
        return self.frame_tokens + sum(item.tokens for item in self.items)


def pack(components: list[Component], available: int) -> list[Packed]:
    """Pack components into `available` tokens; the sum of `Packed.tokens` never exceeds it."""
    if available < 0:
        raise ValueError("available must be >= 0")
    results = [Packed(c.name, frame_tokens=c.frame_tokens) for c in components]
    pending = [list(c.candidates) for c in components]
    remaining = available
    carry = 0
    flexible: int | None = None  # what the shares are of: the budget after fixed components
    for i, comp in enumerate(components):
        if comp.fixed:
            remaining -= _fill(comp, results[i], pending[i], remaining)
            continue
        if flexible is None:
            flexible = remaining
        last = i == len(components) - 1
        cap = remaining if last else max(comp.minimum, int(comp.share * flexible)) + carry
        allowance = min(cap, remaining)
        used = _fill(comp, results[i], pending[i], allowance)
        remaining -= used
        carry = allowance - used
    # Second pass: what is still free goes back to the components in priority order.
    for i, comp in enumerate(components):
        remaining -= _fill(comp, results[i], pending[i], remaining)
    for i in range(len(components)):
        results[i].excluded = pending[i]
    return results


def _fill(comp: Component, packed: Packed, pending: list[Candidate], allowance: int) -> int:
    """Move pending candidates that fit into `packed`, in order; return the tokens spent."""
    used = 0
    kept: list[Candidate] = []
    for n, cand in enumerate(pending):
        cost = cand.tokens + (0 if packed.items else comp.frame_tokens)
        if used + cost <= allowance:
            packed.items.append(cand)
            used += cost
            continue
        if comp.contiguous:
            # The window must stay a contiguous newest suffix: once one turn does not fit,
            # no older turn may enter.
            kept.extend(pending[n:])
            break
        kept.append(cand)
    pending[:] = kept
    return used
