"""The recall harness reads LoCoMo-format files (bench/locomo.py) as the authors write them."""

import json
from pathlib import Path

import pytest

from bench import locomo

SAMPLE = {
    "sample_id": "conv-x",
    "qa": [
        {
            "question": "When did Ann go?",
            "answer": "7 May 2023",
            "evidence": ["D1:2"],
            "category": 2,
        },
        {"question": "Both?", "answer": "yes", "evidence": ["D1:1; D2:1"], "category": 1},
        {"question": "Trick?", "adversarial_answer": "no", "evidence": ["D1:1"], "category": 5},
        {"question": "Guess?", "answer": "likely", "evidence": [], "category": 3},
    ],
    "conversation": {
        "speaker_a": "Ann",
        "speaker_b": "Bo",
        "session_1_date_time": "1:56 pm on 8 May, 2023",
        "session_1": [
            {"speaker": "Ann", "dia_id": "D1:1", "text": "Hi Bo!"},
            {"speaker": "Bo", "dia_id": "D1:2", "text": "Look.", "blip_caption": "a dog"},
        ],
        "session_2_date_time": "10:00 am on 9 May, 2023",
        "session_2": [{"speaker": "Bo", "dia_id": "D2:1", "text": "Hello again."}],
    },
}


def test_a_sample_becomes_a_dated_two_person_corpus(tmp_path: Path) -> None:
    path = tmp_path / "locomo.json"
    path.write_text(json.dumps([SAMPLE]))
    [corpus] = locomo.load(path)
    first, second = corpus.sessions
    assert [(t.id, t.role, t.name) for t in first] == [
        ("conv-x-D1:1", "user", "Ann"),
        ("conv-x-D1:2", "assistant", "Bo"),
    ]
    assert first[0].created_at.isoformat() == "2023-05-08T13:56:00+00:00"
    assert second[0].created_at.isoformat() == "2023-05-09T10:00:00+00:00"
    assert first[1].content == "Look."  # the caption is not what was said
    # category 5 (no answer in the conversation) and questions without evidence are left out;
    # an evidence entry naming two turns counts both
    assert [(q.kind, q.evidence) for q in corpus.questions] == [
        ("temporal", ("conv-x-D1:2",)),
        ("multi_hop", ("conv-x-D1:1", "conv-x-D2:1")),
    ]


def test_both_speakers_as_users_and_captions_on_request(tmp_path: Path) -> None:
    path = tmp_path / "locomo.json"
    path.write_text(json.dumps(SAMPLE))
    [corpus] = locomo.load(path, roles="user", captions=True)
    turns = [t for s in corpus.sessions for t in s]
    assert {t.role for t in turns} == {"user"}
    assert turns[1].content == "Look. [shares a photo: a dog]"
    with pytest.raises(ValueError, match="roles"):
        locomo.load(path, roles="bot")
