"""What an extraction rule is: one pattern for one kind of slot, and the candidate it yields.

Shared by the rule families (`extraction`: what users say about themselves; `records`: the
household's records they note down)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Candidate:
    """One fact a statement asserts: its slot, its value, and a canonical sentence."""

    key: str
    value: str
    text: str


@dataclass(frozen=True, slots=True)
class Rule:
    """One pattern for one kind of slot; `build` turns a match into a candidate (or None)."""

    name: str
    pattern: re.Pattern[str]
    build: Callable[[re.Match[str]], Candidate | None]


def rule(name: str, pattern: str, build: Callable[[re.Match[str]], Candidate | None]) -> Rule:
    return Rule(name, re.compile(pattern, re.IGNORECASE), build)


def slug(value: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", value.lower()).strip("_")[:48] or "x"
