from __future__ import annotations

from datetime import UTC, datetime, timedelta

from service.domain.facts import (
    ConflictPolicy,
    conflict_policy,
    is_near_duplicate,
    supersedes,
    valid_at,
)
from service.domain.models import Fact


def test_near_duplicates_need_high_similarity() -> None:
    assert is_near_duplicate("User likes tea", "User likes tea.", 0.99)
    assert not is_near_duplicate("User likes tea", "User likes coffee", 0.80)


def test_different_numbers_are_different_facts() -> None:
    assert not is_near_duplicate("User's PIN is 1234", "User's PIN is 1235", 0.995)
    assert not is_near_duplicate("Meeting on 2026-03-01", "Meeting on 2026-03-02", 0.99)
    assert is_near_duplicate("Flat 4B, floor 3", "flat 4B floor 3", 0.98)


def _fact(fid: str, key: str | None, valid: int, recorded: int, status: str = "active") -> Fact:
    day = datetime(2024, 1, 1, tzinfo=UTC)
    return Fact(
        "t",
        fid,
        "u",
        f"text {fid}",
        key,
        status,  # type: ignore[arg-type]
        1,
        recorded_at=day + timedelta(days=recorded),
        valid_from=day + timedelta(days=valid),
    )


def test_event_time_decides_not_arrival() -> None:
    porto = _fact("porto", "user.location", valid=10, recorded=10)
    late_lisbon = _fact("lisbon", "user.location", valid=5, recorded=20)
    assert supersedes(porto, late_lisbon)
    assert not supersedes(late_lisbon, porto)


def test_valid_at_answers_as_of_and_known_at() -> None:
    day = datetime(2024, 1, 1, tzinfo=UTC)
    lisbon = _fact("lisbon", "user.location", valid=0, recorded=0, status="superseded")
    porto = _fact("porto", "user.location", valid=10, recorded=10)
    # Said on day 30 about day 5: history, between the two.
    braga = _fact("braga", "user.location", valid=5, recorded=30, status="superseded")
    note = _fact("note", None, valid=3, recorded=3)
    gone = _fact("gone", "user.diet", valid=1, recorded=1, status="suspect")
    facts = [lisbon, porto, braga, note, gone]

    def ids(as_of: int | None = None, known_at: int | None = None) -> set[str]:
        a = None if as_of is None else day + timedelta(days=as_of)
        k = None if known_at is None else day + timedelta(days=known_at)
        return {f.id for f in valid_at(facts, a, k)}

    assert ids() == {"porto", "note"}  # the present: the active facts
    assert ids(as_of=2) == {"lisbon"}
    assert ids(as_of=7) == {"braga", "note"}  # we know now it was Braga then
    assert ids(as_of=7, known_at=20) == {"lisbon", "note"}  # what we had recorded on day 20
    assert ids(known_at=12) == {"porto", "note"}
    assert ids(as_of=40) == {"porto", "note"}  # suspect facts are never served


def test_conflict_policy_by_tenant_and_key_prefix() -> None:
    rules: dict[str, ConflictPolicy] = {
        "acme": "keep_both",
        "acme:user.pet.": "lww",
        "*:user.medical.": "keep_both",
    }
    assert conflict_policy(rules, "lww", "acme", "user.diet") == "keep_both"
    assert conflict_policy(rules, "lww", "acme", "user.pet.dog.name") == "lww"
    assert conflict_policy(rules, "lww", "other", "user.medical.allergy") == "keep_both"
    assert conflict_policy(rules, "lww", "other", "user.diet") == "lww"
    assert conflict_policy({}, "keep_both", "x", "k") == "keep_both"
