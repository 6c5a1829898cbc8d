"""The built-in extractor: slot keys for what users say about themselves; nothing for questions,
hypotheticals, quotes, other people, small talk; and it clears its labelled set's targets."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from harness.extraction_labels import load, score
from service.domain.extraction import extract, extract_from_turns
from service.domain.models import Message


def _slots(text: str) -> dict[str, str]:
    return {c.key: c.value for c in extract(text)}


@pytest.mark.parametrize(
    ("text", "slots"),
    [
        ("We moved to Porto last spring.", {"user.location": "Porto"}),
        ("I live in Rio de Janeiro.", {"user.location": "Rio de Janeiro"}),
        ("I no longer eat meat.", {"user.diet": "vegetarian"}),
        ("I'm thirty-four years old.", {"user.age": "34"}),
        ("My sister lives in Rome.", {"user.sister.location": "Rome"}),
        ("My mum's name is Helen.", {"user.mother.name": "Helen"}),
        ("I have a dog named Rex.", {"user.pet.dog.name": "Rex"}),
        ("I can't stand olives.", {"user.likes.olives": "dislikes"}),
        ("I'm flying to Japan in March.", {"user.plan.trip.japan": "in March"}),
        ("I work as a nurse at the clinic.", {"user.job": "nurse"}),
        ("I'm an engineer at BMW.", {"user.job": "engineer", "user.employer": "BMW"}),
        (
            "Oh, and I live in Nantes. I\u2019m vegan.",
            {"user.location": "Nantes", "user.diet": "vegan"},
        ),
    ],
)
def test_first_person_statements_become_slots(text: str, slots: dict[str, str]) -> None:
    assert _slots(text) == slots


@pytest.mark.parametrize(
    "text",
    [
        "Do you live in Porto?",
        "If I lived in Paris I would eat croissants every day.",
        "I'm thinking about moving to Denver.",
        "I used to live in Madrid.",
        'My friend said "I live in Paris".',
        "She told me she's allergic to peanuts.",
        "Anna lives in Rome.",
        "My friend's sister lives in Rome.",
        "I love it!",
        "I'm 100% sure.",
        "I don't live in Madrid.",
        "Thanks, that's really helpful.",
    ],
)
def test_non_facts_yield_nothing(text: str) -> None:
    assert extract(text) == []


def test_a_correction_lands_on_the_same_slot() -> None:
    [before] = extract("I'm vegetarian.")
    [after] = extract("I went vegan in January.")
    assert before.key == after.key == "user.diet"
    assert (before.text, after.text) == ("User is vegetarian.", "User is vegan.")
    [likes] = extract("I love coffee.")
    [dislikes] = extract("I hate coffee.")
    assert likes.key == dislikes.key  # a preference that turns supersedes


def test_only_user_turns_count_with_their_id_and_time() -> None:
    at = datetime(2024, 5, 1, tzinfo=UTC)

    def turn(i: int, role: str, content: str) -> Message:
        return Message("t", "s", "u", f"m{i}", i, role, content, at, 5)  # type: ignore[arg-type]

    found = extract_from_turns(
        [turn(1, "assistant", "I live in Oslo."), turn(0, "user", "I live in Bergen.")]
    )
    assert [(f.key, f.text, f.lineage, f.valid_from) for f in found] == [
        ("user.location", "User lives in Bergen.", ("s/m0",), at)
    ]


def test_labelled_set_meets_the_targets() -> None:
    labelled = load()
    result = score(labelled)
    assert len(labelled) >= 300
    assert result.non_facts * 3 >= len(labelled) - 3  # about a third are non-facts
    assert result.precision >= 0.9
    assert result.recall >= 0.6
