"""How well does the built-in extractor find facts, and does it keep up with indexing? (issue 11)

1. Precision and recall on a hand-labelled set (harness/extraction_labelled.txt: statements
   with the slot=value facts they assert, a third of them non-facts: questions, hypotheticals,
   quoted or reported speech, other people, small talk). A prediction is right when its slot and
   value match a label (values case-insensitive).
2. The recall harness's planted attributes (bench/household_corpus.py): after extraction of
   every user turn, is each attribute's current value an active fact?
3. Throughput: turns/s of the built-in extractor over the recall harness's conversations, and of
   indexing the same turns (embedding + upsert, the real model), in the same run.

    python -m bench extraction [--verbose] [--turns 400] [--seeds 7,11]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.household_corpus import generate
from harness.extraction_labels import load, score
from service.domain.extraction import extract


def quality(verbose: bool) -> None:
    s = score(load())
    print(
        f"labelled set: {s.statements} statements ({s.non_facts} non-facts); "
        f"precision {s.precision:.3f} (target >= 0.9), recall {s.recall:.3f} (target >= 0.6)"
    )
    if verbose:
        for statement, fact in s.false_positives:
            print(f"  false positive: {fact} <- {statement!r}")
        for statement, fact in s.misses:
            print(f"  missed: {fact} <- {statement!r}")


def _served(texts: list[str], subject: str, value: str) -> bool:
    """A current slot's text names the subject with this value."""
    return any(subject.lower() in text and value.lower() in text for text in texts)


def planted(seeds: tuple[int, ...] = (7, 11)) -> None:
    """The recall harness's planted attributes (questions answered by one turn: stated once,
    or corrected and asked now): is the current value an active fact (its text names the
    subject and the value) after every user turn went through extraction, resolved per slot
    by event time as the store does? And is any value a correction replaced still current?"""
    for seed in seeds:
        corpus = generate(seed)
        turns = sorted(
            (t for s in corpus.sessions for t in s if t.role == "user"), key=lambda t: t.created_at
        )
        # The names a session's user turns are spoken under, as an extraction job sees them.
        members = {
            s[0].session_id: {t.name for t in s if t.role == "user"} for s in corpus.sessions
        }
        current: dict[str, tuple[str, str]] = {}  # slot -> (text, turn id), latest event wins
        for turn in turns:
            for c in extract(turn.content, members[turn.session_id]):
                current[c.key] = (c.text, turn.id)
        asked = [
            q
            for q in corpus.questions
            if q.kind in ("single_hop", "paraphrase", "update") and len(q.evidence) == 1
        ]

        texts = [text.lower() for text, _ in current.values()]
        found = sum(_served(texts, q.subject, q.answer) for q in asked)
        outdated = [(q.subject, v) for q in asked for v in q.outdated]
        stale = sum(_served(texts, subject, v) for subject, v in outdated)
        print(
            f"recall harness seed {seed}: current value active for {found}/{len(asked)} planted "
            f"attributes; superseded values served as current {stale}/{len(outdated)} "
            f"({len(current)} slots from {len(turns)} user turns)"
        )


def throughput(turns: int) -> None:
    """Turns/s of extraction and of indexing (embedding + upsert), same turns, same run."""
    from service.adapters.edge_index import EdgeIndex
    from service.runtime.container import build_embedder
    from service.settings import Settings

    corpus = generate(7)
    texts = [t.content for s in corpus.sessions for t in s if t.role == "user"][:turns]
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        for text in texts:
            extract(text)
        runs.append(time.perf_counter() - started)
    extract_tps = len(texts) / statistics.median(runs)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp))
        embedder = build_embedder(settings)
        index = EdgeIndex(Path(tmp) / "edge", embedder.dimension)
        index.ensure_collection()
        from service.domain.models import VectorPoint

        embedder.embed(texts[:8])  # warm-up
        started = time.perf_counter()
        for start in range(0, len(texts), 32):
            batch = texts[start : start + 32]
            vectors = embedder.embed(batch)
            index.upsert(
                [
                    VectorPoint(f"00000000-0000-0000-0000-{start + i:012d}", v, {"n": start + i})
                    for i, v in enumerate(vectors)
                ]
            )
        index_tps = len(texts) / (time.perf_counter() - started)
        index.close()
    print(
        f"throughput over {len(texts)} user turns: extraction {extract_tps:,.0f} turns/s, "
        f"indexing (embed + upsert) {index_tps:,.0f} turns/s, ratio {extract_tps / index_tps:.0f}x"
    )


def main() -> None:
    args = sys.argv[1:]
    turns = int(args[args.index("--turns") + 1]) if "--turns" in args else 400
    quality("--verbose" in args)
    if "--seeds" in args:
        planted(tuple(int(x) for x in args[args.index("--seeds") + 1].split(",")))
    else:
        planted()
    throughput(turns)


if __name__ == "__main__":
    main()
