"""The extractor's hand-labelled set (extraction_labelled.txt) and its scoring: precision and
recall of slot=value facts. Shared by bench/extraction.py and the unit tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from service.domain.extraction import extract

LABELLED = Path(__file__).parent / "extraction_labelled.txt"


@dataclass(frozen=True, slots=True)
class Labelled:
    statement: str
    facts: frozenset[tuple[str, str]]


def load(path: Path = LABELLED) -> list[Labelled]:
    out: list[Labelled] = []
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        labels, statement = line.split(" :: ", 1)
        facts: set[tuple[str, str]] = set()
        if labels.strip() != "-":
            for label in labels.split(" | "):
                key, value = label.strip().split("=", 1)
                facts.add((key, value.lower()))
        out.append(Labelled(statement.strip(), frozenset(facts)))
    return out


@dataclass(frozen=True, slots=True)
class Score:
    statements: int
    non_facts: int
    precision: float
    recall: float
    false_positives: list[tuple[str, tuple[str, str]]]
    misses: list[tuple[str, tuple[str, str]]]


def score(labelled: list[Labelled]) -> Score:
    predicted = right = expected = 0
    false_positives: list[tuple[str, tuple[str, str]]] = []
    misses: list[tuple[str, tuple[str, str]]] = []
    for item in labelled:
        got = {(c.key, c.value.lower()) for c in extract(item.statement)}
        predicted += len(got)
        expected += len(item.facts)
        right += len(got & item.facts)
        false_positives += [(item.statement, f) for f in sorted(got - item.facts)]
        misses += [(item.statement, f) for f in sorted(item.facts - got)]
    return Score(
        statements=len(labelled),
        non_facts=sum(1 for i in labelled if not i.facts),
        precision=right / predicted if predicted else 1.0,
        recall=right / expected if expected else 1.0,
        false_positives=false_positives,
        misses=misses,
    )
