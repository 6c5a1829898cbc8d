"""Conversations in the LoCoMo benchmark's file format, as corpora for the recall harness.

LoCoMo (Maharana et al., 2024; github.com/snap-research/LoCoMo, `data/locomo10.json`) is ten
long conversations between two people over weeks of dated sessions, with questions annotated
with their evidence turns. The data is not shipped here (it is the authors'); point the recall
harness at a copy: `python -m bench recall_quality --locomo PATH`. A file holds a list of
samples, each `{"sample_id", "qa": [{"question", "answer", "evidence": ["D1:3", ...],
"category"}], "conversation": {"speaker_a", "speaker_b", "session_N_date_time": "1:56 pm on 8
May, 2023", "session_N": [{"speaker", "dia_id", "text", "blip_caption"?}]}}`.

How a conversation becomes a `Corpus`:
- each LoCoMo session is a corpus session; its turns are a minute apart from its stated time;
- roles: both people are people, so an application could send either as `user` (`roles="user"`,
  each turn named by its speaker) or the second as `assistant` (`roles="pair"`); the default is
  `pair`, which puts half the evidence in assistant turns;
- a photo turn's caption is left out unless `captions` (the text alone is what was said);
- questions of categories 1-4 with evidence (category 5, adversarial, has no answer in the
  conversation); kinds: 1 multi_hop, 2 temporal, 3 open_domain, 4 single_hop, as the authors'
  evaluation names them. Evidence ids are split on `;` and spaces (a few are written "D8:6;
  D9:17"); an id that names no turn is kept, so its question cannot be complete for anyone.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.household_corpus import Corpus, Question, Turn

KINDS = {1: "multi_hop", 2: "temporal", 3: "open_domain", 4: "single_hop"}
_SESSION = re.compile(r"session_(\d+)$")
_EVIDENCE = re.compile(r"D\d+:\d+")


def _when(text: str) -> datetime:
    """'1:56 pm on 8 May, 2023' (LoCoMo's session stamps)."""
    return datetime.strptime(text.strip(), "%I:%M %p on %d %B, %Y").replace(tzinfo=UTC)


def _corpus(sample: dict[str, Any], roles: str, captions: bool) -> Corpus:
    name = str(sample.get("sample_id", "locomo"))
    conv = sample["conversation"]
    first = conv["speaker_a"]
    numbers = sorted(int(m.group(1)) for k in conv if (m := _SESSION.match(k)))
    sessions = []
    for n in numbers:
        at = _when(conv[f"session_{n}_date_time"])
        rows = []
        for seq, turn in enumerate(conv[f"session_{n}"]):
            text = str(turn["text"])
            if captions and turn.get("blip_caption"):
                text = f"{text} [shares a photo: {turn['blip_caption']}]"
            role = "assistant" if roles == "pair" and turn["speaker"] != first else "user"
            rows.append(
                Turn(
                    f"{name}-{turn['dia_id']}",
                    f"{name}-s{n:02d}",
                    seq,
                    role,
                    str(turn["speaker"]),
                    text,
                    at + timedelta(minutes=seq),
                )
            )
        if rows:
            sessions.append(tuple(rows))
    questions = []
    for i, qa in enumerate(sample["qa"]):
        kind = KINDS.get(int(qa.get("category", 5)))
        evidence = tuple(
            f"{name}-{e}" for item in qa.get("evidence", []) for e in _EVIDENCE.findall(str(item))
        )
        if kind is None or not evidence:
            continue
        questions.append(
            Question(f"{name}-q{i + 1:03d}", kind, str(qa["question"]), evidence, str(qa["answer"]))
        )
    ids = {t.id for rows in sessions for t in rows}
    unknown = sorted({e for q in questions for e in q.evidence} - ids)
    if unknown:  # said, not hidden: those questions count as missed by every strategy
        print(f"-- {name}: evidence naming no turn: {', '.join(unknown)}")
    return Corpus(f"locomo-{name}", tuple(sessions), tuple(questions))


def load(path: Path, roles: str = "pair", captions: bool = False) -> list[Corpus]:
    """Every sample of a LoCoMo-format file as a corpus (`roles`: "pair" or "user")."""
    if roles not in ("pair", "user"):
        raise ValueError(f"roles must be 'pair' or 'user', not {roles!r}")
    samples = json.loads(path.read_text())
    if isinstance(samples, dict):
        samples = [samples]
    return [_corpus(s, roles, captions) for s in samples]
