"""Tool calls and their results, pure: they enter, leave and fold together.

Chat APIs reject a tool result that answers no visible call, and a call without its results
tells the model nothing: wherever turns are cut (the recent window, a compaction), an assistant
turn with `tool_calls` and the tool results that follow it are one unit.
"""

from __future__ import annotations

from collections.abc import Sequence

from service.domain.models import Message


def tool_units(turns_oldest_first: Sequence[Message]) -> list[list[Message]]:
    """Turns grouped so that an assistant turn with tool calls and the tool results that follow
    it form one unit; every other turn is a unit of its own. A tool result whose call is not
    among the turns is a unit alone."""
    units: list[list[Message]] = []
    calls: set[str] = set()
    for turn in turns_oldest_first:
        if turn.role == "tool" and units and turn.tool_call_id in calls:
            units[-1].append(turn)
            continue
        units.append([turn])
        calls = {str(c.get("id")) for c in turn.tool_calls or [] if isinstance(c, dict)}
    return units


def whole_units_end(turns_oldest_first: Sequence[Message], end: int) -> int:
    """The largest cut <= `end` that does not fall inside a unit: turns[:cut] keeps every
    call together with its results."""
    start = 0
    for unit in tool_units(turns_oldest_first):
        if start + len(unit) > end:
            return start
        start += len(unit)
    return end
