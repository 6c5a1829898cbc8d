"""Fact rules: when two statements are the same fact (merged, not stored twice), which one is
current on a key (event time), and what was valid at a time (bi-temporal `as_of`/`known_at`)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Literal

from service.domain.models import Fact

# Cosine similarity at or above which two statements may be the same fact.
DUPLICATE_SIMILARITY = 0.97
_NUMBER = re.compile(r"\d+(?:[.,:/-]\d+)*")


def is_near_duplicate(new: str, existing: str, similarity: float) -> bool:
    """Same fact: nearly the same meaning and exactly the same numbers.

    Embeddings barely move when one digit changes ("PIN is 1234" vs "PIN is 1235"), and those
    are different facts, so numbers must match exactly.
    """
    return similarity >= DUPLICATE_SIMILARITY and _NUMBER.findall(new) == _NUMBER.findall(existing)


ConflictPolicy = Literal["lww", "keep_both"]


def conflict_policy(
    policies: Mapping[str, ConflictPolicy], default: ConflictPolicy, tenant: str, key: str
) -> ConflictPolicy:
    """The policy for concurrent writes to `key`: the longest matching rule of
    `tenant:key-prefix`, `*:key-prefix` or `tenant`, else `default`."""
    best: tuple[int, ConflictPolicy] | None = None
    for rule, policy in policies.items():
        who, _, prefix = rule.partition(":")
        if who not in (tenant, "*") or not key.startswith(prefix):
            continue
        rank = len(prefix) * 2 + (who == tenant)
        if best is None or rank > best[0]:
            best = (rank, policy)
    return best[1] if best is not None else default


def message_source(session_id: str, message_id: str) -> str:
    """A turn as a lineage entry: message ids are unique within their session only."""
    return f"{session_id}/{message_id}"


def source_session(source: str) -> str | None:
    """The session of a turn's lineage entry (None: not a turn)."""
    session_id, sep, _ = source.partition("/")
    return session_id if sep else None


def supersedes(new: Fact, current: Fact) -> bool:
    """Whether `new` replaces `current` on their key: by event time, not arrival order (a late
    statement about an earlier time goes into history); a tie goes to the later recorded."""
    return (new.valid_from, new.recorded_at, new.id) >= (
        current.valid_from,
        current.recorded_at,
        current.id,
    )


def valid_at(
    facts: Sequence[Fact], as_of: datetime | None = None, known_at: datetime | None = None
) -> list[Fact]:
    """The facts that were current at `as_of` (event time) by what was recorded at `known_at`
    (record time): bi-temporal. Per key, the latest statement valid by then; keyless facts
    from their `valid_from` on. Deleted and suspect facts are never served.

    With neither time it is the present: the active facts (those in a conflict too).
    """
    if as_of is None and known_at is None:
        return [f for f in facts if f.status in ("active", "conflict")]
    when = as_of or known_at
    assert when is not None
    known = [
        f
        for f in facts
        if f.status not in ("deleted", "suspect")
        and (known_at is None or f.recorded_at <= known_at)
        and f.valid_from <= when
    ]
    latest: dict[str, Fact] = {}
    out: list[Fact] = []
    for fact in known:
        if fact.key is None:
            out.append(fact)
        elif fact.key not in latest or supersedes(fact, latest[fact.key]):
            latest[fact.key] = fact
    return sorted(out + list(latest.values()), key=lambda f: (f.valid_from, f.id))
