from __future__ import annotations

from service.domain.facts import is_near_duplicate


def test_near_duplicates_need_high_similarity() -> None:
    assert is_near_duplicate("User likes tea", "User likes tea.", 0.99)
    assert not is_near_duplicate("User likes tea", "User likes coffee", 0.80)


def test_different_numbers_are_different_facts() -> None:
    assert not is_near_duplicate("User's PIN is 1234", "User's PIN is 1235", 0.995)
    assert not is_near_duplicate("Meeting on 2026-03-01", "Meeting on 2026-03-02", 0.99)
    assert is_near_duplicate("Flat 4B, floor 3", "flat 4B floor 3", 0.98)
