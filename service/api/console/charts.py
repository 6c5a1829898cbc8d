"""Geometry of the console's inline SVG charts (the templates draw it; no JS, no CDN)."""

from __future__ import annotations

from dataclasses import dataclass

PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f")
STATE_COLOURS = {
    "pending": "#e15759",
    "indexed": "#4e79a7",
    "summarized": "#59a14f",
    "trimmed": "#bab0ac",
}


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: int
    x: float
    y: float
    width: float
    height: float
    colour: str
    share: float


@dataclass(frozen=True, slots=True)
class Chart:
    bars: list[Bar]
    width: int
    height: int
    label_width: int


def horizontal_bars(
    parts: dict[str, int], scale: int, width: int = 640, row: int = 26, label_width: int = 140
) -> Chart:
    """One bar per part, longest first, scaled so `scale` fills the plot (e.g. the budget)."""
    plot = width - label_width - 90
    bars = []
    ordered = sorted(parts.items(), key=lambda kv: -kv[1])
    for n, (label, value) in enumerate(ordered):
        share = value / scale if scale else 0.0
        bars.append(
            Bar(
                label=label,
                value=value,
                x=label_width,
                y=n * row + 4,
                width=max(1.0, plot * min(share, 1.0)) if value else 0.0,
                height=row - 8,
                colour=PALETTE[n % len(PALETTE)],
                share=share,
            )
        )
    return Chart(
        bars=bars, width=width, height=max(row, len(bars) * row + 4), label_width=label_width
    )


def columns(
    counts: list[tuple[str, int]], width: int = 640, height: int = 160, gap: float = 4
) -> Chart:
    """A column per (label, count), e.g. sessions per size bucket."""
    top = max((c for _, c in counts), default=0) or 1
    slot = width / max(1, len(counts))
    plot = height - 36
    bars = [
        Bar(
            label=label,
            value=count,
            x=n * slot + gap / 2,
            y=16 + plot * (1 - count / top),
            width=slot - gap,
            height=plot * count / top,
            colour=PALETTE[0],
            share=count / top,
        )
        for n, (label, count) in enumerate(counts)
    ]
    return Chart(bars=bars, width=width, height=height, label_width=0)


def strip(states: list[str], width: int = 900, height: int = 22) -> Chart:
    """One thin rectangle per turn, coloured by its state: the session at a glance."""
    slot = width / max(1, len(states))
    bars = [
        Bar(
            label=state,
            value=n,
            x=n * slot,
            y=0,
            width=max(slot - (1 if slot > 3 else 0), 0.5),
            height=height,
            colour=STATE_COLOURS.get(state, "#999"),
            share=0.0,
        )
        for n, state in enumerate(states)
    ]
    return Chart(bars=bars, width=width, height=height, label_width=0)
