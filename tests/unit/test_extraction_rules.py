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


@pytest.mark.parametrize(
    ("first", "correction", "key", "value"),
    [
        (
            "Router login at the lake house is heron-1122.",
            "Heads up, the router at the lake house got reset and the wifi password is now "
            "wren-9001.",
            "record.lake_house.wifi_password",
            "wren-9001",
        ),
        (
            "Door code for the side gate: 4417.",
            "They changed the code for the side gate, it's 9930 from today.",
            "record.side_gate.code",
            "9930",
        ),
        (
            "We agreed the budget for the party is $400, not a cent more.",
            "We revised the party, the cap is now $650.",
            "record.party.budget",
            "$650",
        ),
        (
            "Just confirmed: Sam's eye test is on 3 May.",
            "Sam's eye test got moved, it's now on 17 May.",
            "record.sam_s_eye_test.date",
            "17 May",
        ),
        (
            "We decided to use Postgres 16 for the ledger.",
            "Change of plan: the ledger will use SQLite instead.",
            "record.ledger.uses",
            "SQLite",
        ),
    ],
)
def test_a_record_and_its_correction_share_a_slot(
    first: str, correction: str, key: str, value: str
) -> None:
    """Whatever words tell a record ("router login", "wifi password"), one attribute of one
    subject is one slot, so the correction supersedes the first value."""
    assert list(_slots(first)) == [key]
    assert _slots(correction) == {key: value}


@pytest.mark.parametrize(
    "text",
    [
        "What's the wifi password at the cabin?",
        "If the budget for the trip is $500, can we afford it?",
        'He said "the code for the gate is 1234".',
        "The budget for the trip is tight.",  # no amount: no record
        "The wifi at the cafe is terrible.",
        "The number of guests at the party is 40.",  # no phone number
        "The meeting is going on Friday.",  # a weekday is no product
        "Lena is allergic to peanuts.",  # someone else's attribute, no relationship
    ],
)
def test_what_is_not_a_record_yields_nothing(text: str) -> None:
    assert extract(text) == []


def test_relationships_of_the_accounts_own_speakers_are_kept() -> None:
    """In an account several people speak for (a household), a speaker's relative is the
    user's to remember; anyone else's is not."""
    said = "Scratch that, Priya's cousin Ines ended up in Lagos instead."
    assert _slots(said) == {}  # Priya is nobody we know
    found = extract(said, members={"Priya", "Tom"})
    assert [(c.key, c.value, c.text) for c in found] == [
        ("member.priya.cousin.ines.location", "Lagos", "Priya's cousin Ines lives in Lagos.")
    ]
    heard = extract("Heard from Tom's childhood friend Tariq, they relocated to Bogota.", ["Tom"])
    assert {c.key: c.value for c in heard} == {
        "member.tom.childhood_friend.tariq.location": "Bogota"
    }
    assert extract("Anna's sister Eva lives in Rome.", members={"Tom"}) == []


def test_the_batch_speakers_are_the_members() -> None:
    at = datetime(2024, 5, 1, tzinfo=UTC)
    turns = [
        Message("t", "s", "u", "m0", 0, "user", "Maya's cousin Lena moved to Porto.", at, 5, "Tom"),
        Message("t", "s", "u", "m1", 1, "user", "Hello from me too.", at, 5, "Maya"),
    ]
    [fact] = extract_from_turns(turns)
    assert (fact.key, fact.text) == (
        "member.maya.cousin.lena.location",
        "Maya's cousin Lena lives in Porto.",
    )


def test_a_new_router_gives_the_wifi_a_new_password() -> None:
    assert _slots("New router at the studio, so the key is finch-4410 from now on.") == {
        "record.studio.wifi_password": "finch-4410"
    }
