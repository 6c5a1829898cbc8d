"""Does the assembled context hold what the question needs? (issues 4 and 10)

A seeded multi-session corpus (bench/household_corpus.py: planted facts, corrections, two-hop
relations across sessions, dated events, paraphrased questions, distractors) is fed through the
service's own paths: each turn appended, indexed, compacted and (a user turn) mined for facts as
the workers do it (extraction on, as sessions have it by default). Then every
question is answered by each strategy within budgets of 256 to 4,096 tokens:

- service in-session: the whole conversation is ONE session (as an application keeps it): most
  of it folded into the rolling summary and trimmed from the log, the newest turns in the recent
  window; the question is asked at its end (`POST /v1/context` with the question as `query`);
- service fresh: each corpus session is its own session; the question is asked from a new
  session of the same user (`recall_scope="user"`: no summary, no history);
- baselines over the same turns, measured in the same run, each packing whole turns (chat
  framing counted as the service counts it) greedily in its own order:
  recency-only (newest first), dense top-k (MiniLM cosine, the service's embedder), and hybrid
  top-k (Snowball-stemmed BM25 with stopwords and MiniLM dense, each ranking ALL turns, fused by
  reciprocal rank with k = 60).

A question counts as answered when every one of its evidence turns is in the context verbatim
(for the service: an included item of kind "message" with that id, from history or recall).
Reported per budget and strategy: that share overall and per question kind, and the median
tokens spent.

    python -m bench recall_quality [--seeds 7,11] [--set key=value ...]

`--locomo PATH[,PATH]` asks LoCoMo-format files' questions instead (bench/locomo.py: real
conversations between two people; `--roles pair|user`, `--captions`, `--samples N`).
"""

from __future__ import annotations

import math
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import snowballstemmer

from bench import locomo
from bench.household_corpus import Corpus, Question, Turn, generate
from bench.stats import save
from service.adapters.edge_index import EdgeIndex
from service.domain.chat_format import REPLY_PRIMING, message_tokens
from service.domain.models import NewMessage
from service.logging import configure_logging
from service.runtime.container import build_container, build_embedder
from service.runtime.valkey import start_valkey
from service.settings import Settings
from service.usecases import sessions
from service.usecases.compaction import compact_session
from service.usecases.context import ContextRequest, assemble_context
from service.usecases.extraction import extract_session_facts
from service.usecases.indexing import index_messages
from service.usecases.services import Services

BUDGETS = (256, 512, 1024, 2048, 4096)
IN_SESSION, FRESH = "service in-session", "service fresh"
BASELINES = ("recency-only", "dense top-k", "hybrid top-k")
CONVERSATION = "conversation"  # the one session of the in-session mode
Strategy = Callable[[Question, int], tuple[set[str], int]]


# --- feeding the service -----------------------------------------------------------------


def _new_message(turn: Turn) -> NewMessage:
    return NewMessage(
        role=turn.role,  # type: ignore[arg-type]
        content=turn.content,
        id=turn.id,
        name=turn.name,
        created_at=turn.created_at,
    )


def feed(svc: Services, tenant: str, corpus: Corpus, one_session: bool) -> dict[str, float]:
    """Append, index and compact every turn as the workers would: into one session
    (`one_session`) or into one session per corpus session."""
    started = time.perf_counter()
    compactions = 0
    for turns in corpus.sessions:
        session_id = CONVERSATION if one_session else turns[0].session_id
        for turn in turns:
            result = sessions.append_messages(
                svc, tenant, session_id, corpus.user_id, [_new_message(turn)]
            )
            index_messages(svc, tenant, session_id, result.epoch, result.new_ids)
            if turn.role == "user":  # the job indexing enqueues: facts learned from the turn
                extract_session_facts(svc, tenant, session_id, result.epoch, result.new_ids)
            if compact_session(svc, tenant, session_id, result.epoch)["status"] == "compacted":
                compactions += 1
    ids = [CONVERSATION] if one_session else [s[0].session_id for s in corpus.sessions]
    infos = [svc.sessions.info(tenant, i) for i in ids]
    summaries = [svc.summaries.get(tenant, i) for i in ids]
    return {
        "feed_s": round(time.perf_counter() - started, 2),
        "compactions": compactions,
        "trimmed_turns": sum(i.trimmed for i in infos if i),
        "summary_tokens": sum(s.tokens for s in summaries if s),
        "facts": len(svc.facts.list_for_user(tenant, corpus.user_id, 0, 100_000)),
    }


def service_strategy(svc: Services, tenant: str, corpus: Corpus, in_session: bool) -> Strategy:
    def ask(question: Question, budget: int) -> tuple[set[str], int]:
        request = ContextRequest(
            session_id=CONVERSATION if in_session else f"ask-{question.id}",
            user_id=corpus.user_id,
            budget_tokens=budget,
            query=question.text,
            recall_scope="session" if in_session else "user",
        )
        ctx = assemble_context(svc, tenant, request)
        included = {i["id"] for i in ctx.items if i["kind"] == "message"}
        return included, int(ctx.total)

    return ask


# --- baselines -----------------------------------------------------------------------------

_WORD = re.compile(r"\w+")
# A common English stopword list (the usual IR one, as NLTK's and Lucene's shorter list).
_STOPWORDS_TEXT = """
    a about above after again against all am an and any are as at be because been before being
    below between both but by can did do does doing down during each few for from further
    had has have having he her here hers herself him himself his how i if in into is it its
    itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with you your yours yourself yourselves"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())


class Bm25:
    """Okapi BM25 (k1 = 1.5, b = 0.75) over Snowball-stemmed terms, stopwords removed."""

    def __init__(self, texts: Sequence[str], k1: float = 1.5, b: float = 0.75) -> None:
        self._stem = snowballstemmer.stemmer("english")
        docs = [Counter(self.terms(t)) for t in texts]
        self._docs, self._k1 = docs, k1
        lengths = np.array([sum(d.values()) for d in docs], dtype=np.float64)
        self._norm = k1 * (1 - b + b * lengths / max(1.0, float(lengths.mean())))
        df = Counter(term for d in docs for term in d)
        n = len(docs)
        self._idf = {t: math.log((n - f + 0.5) / (f + 0.5) + 1) for t, f in df.items()}

    def terms(self, text: str) -> list[str]:
        words = [w for w in _WORD.findall(text.lower()) if w not in STOPWORDS]
        return list(self._stem.stemWords(words))

    def scores(self, query: str) -> np.ndarray:
        out = np.zeros(len(self._docs))
        for term in set(self.terms(query)):
            idf = self._idf.get(term)
            if idf is None:
                continue
            tf = np.array([d.get(term, 0) for d in self._docs], dtype=np.float64)
            out += idf * tf * (self._k1 + 1) / (tf + self._norm)
        return out


def rrf(rankings: Sequence[np.ndarray], k: int = 60) -> np.ndarray:
    """Reciprocal rank fusion of full rankings (arrays of indices, best first)."""
    fused = np.zeros(len(rankings[0]))
    for ranking in rankings:
        fused[ranking] += 1.0 / (k + np.arange(1, len(ranking) + 1))
    return fused


def pack(order: Sequence[Turn], cost: dict[str, int], budget: int) -> tuple[set[str], int]:
    """Take turns in `order`, each that still fits (a baseline's context: turns verbatim)."""
    chosen: set[str] = set()
    used = REPLY_PRIMING  # as the service counts it
    for turn in order:
        if used + cost[turn.id] <= budget:
            chosen.add(turn.id)
            used += cost[turn.id]
    return chosen, used


def baselines(svc: Services, corpus: Corpus) -> dict[str, Strategy]:
    turns = [t for session in corpus.sessions for t in session]

    def count(text: str) -> int:
        return svc.tokenizer.count(text, svc.settings.default_model)

    cost = {
        t.id: message_tokens({"role": t.role, "content": t.content, "name": t.name}, count)
        for t in turns
    }
    vectors = np.array(svc.embedder.embed([t.content for t in turns]), dtype=np.float32)
    bm25 = Bm25([t.content for t in turns])
    newest_first = sorted(turns, key=lambda t: t.created_at, reverse=True)

    def dense_order(question: Question) -> np.ndarray:
        [q] = svc.embedder.embed([question.text])
        return np.argsort(-(vectors @ np.array(q, dtype=np.float32)), kind="stable")

    def recency(question: Question, budget: int) -> tuple[set[str], int]:
        return pack(newest_first, cost, budget)

    def dense(question: Question, budget: int) -> tuple[set[str], int]:
        return pack([turns[i] for i in dense_order(question)], cost, budget)

    def hybrid(question: Question, budget: int) -> tuple[set[str], int]:
        sparse_order = np.argsort(-bm25.scores(question.text), kind="stable")
        fused = rrf([dense_order(question), sparse_order])
        return pack([turns[i] for i in np.argsort(-fused, kind="stable")], cost, budget)

    return dict(zip(BASELINES, (recency, dense, hybrid), strict=True))


# --- scoring and report --------------------------------------------------------------------


def report(results: dict[str, dict[str, object]], kinds: list[str]) -> None:
    head = f"{'budget':>6}  {'strategy':<20}{'all evidence':>13}" + "".join(
        f"{k:>12}" for k in kinds
    )
    print(head + f"{'median tokens':>15}")
    for r in results.values():
        by_kind: dict[str, float] = r["by_kind"]  # type: ignore[assignment]
        print(
            f"{r['budget']:>6}  {r['strategy']!s:<20}{r['answered']:>12.1%} "
            + "".join(f"{by_kind.get(k, 0.0):>12.1%}" for k in kinds)
            + f"{r['median_tokens']:>15}"
        )

    def answered(name: str, budget: int) -> float:
        return float(results[f"{name}@{budget}"]["answered"])  # type: ignore[arg-type]

    for budget in BUDGETS:
        hybrid = answered("hybrid top-k", budget)
        modes = "  ".join(
            f"{mode} {answered(mode, budget) - hybrid:+.1%}" for mode in (IN_SESSION, FRESH)
        )
        gap = answered(IN_SESSION, budget) - answered(FRESH, budget)
        print(f"budget {budget:>4}: against hybrid top-k {modes};  in-session - fresh {gap:+.1%}")


def options(args: list[str]) -> tuple[list[int], dict[str, str]]:
    """`--seeds 7,11` (or `--seed 7`) and `--set key=value` (any setting, e.g. --set
    context_recall_limit=20, for tuning runs) from the command line."""
    seeds = [7, 11]
    if "--seeds" in args:
        seeds = [int(s) for s in args[args.index("--seeds") + 1].split(",")]
    elif "--seed" in args:
        seeds = [int(args[args.index("--seed") + 1])]
    sets = dict(a.split("=", 1) for i, a in enumerate(args) if i and args[i - 1] == "--set")
    return seeds, sets


def corpora(args: list[str], seeds: list[int]) -> list[tuple[str, Corpus]]:
    """The generated corpora of `seeds`, or a LoCoMo file's conversations (`--locomo PATH`)."""
    if "--locomo" not in args:
        return [(f"seed {seed}", generate(seed)) for seed in seeds]
    paths = args[args.index("--locomo") + 1]
    roles = args[args.index("--roles") + 1] if "--roles" in args else "pair"
    loaded = [
        c
        for path in paths.split(",")
        for c in locomo.load(Path(path), roles, captions="--captions" in args)
    ]
    if "--samples" in args:
        loaded = loaded[: int(args[args.index("--samples") + 1])]
    print(f"-- LoCoMo {paths}: {len(loaded)} conversations, roles {roles}")
    return [(c.user_id, c) for c in loaded]


def main() -> None:
    """`python -m bench recall_quality [--seeds 7,11] [--set key=value ...]`."""
    seeds, overrides = options(sys.argv[1:])
    configure_logging("console", "warning")
    if overrides:
        print(f"-- settings: {overrides}")
    results: dict[str, dict[str, object]] = {}
    questions: list[Question] = []
    runs = []
    for label, corpus in corpora(sys.argv[1:], seeds):
        fed, by_seed = run(corpus, label, overrides)
        runs.append({"corpus": label, **fed})
        questions += corpus.questions
        for key, r in by_seed.items():
            results.setdefault(key, {"outcomes": []})["outcomes"] += r["outcomes"]  # type: ignore[operator]
    merged = merge(results, questions)
    print(f"-- all corpora: {len(questions)} questions")
    report(merged, sorted({q.kind for q in questions}))
    save("recall_quality", {"seeds": seeds, "settings": overrides, "runs": runs, "results": merged})


def merge(
    results: dict[str, dict[str, object]], questions: Sequence[Question]
) -> dict[str, dict[str, object]]:
    """Per strategy and budget over all seeds' questions (outcomes in question order)."""
    out: dict[str, dict[str, object]] = {}
    kinds = sorted({q.kind for q in questions})
    for key, r in results.items():
        outcomes: list[tuple[bool, int, str]] = r["outcomes"]  # type: ignore[assignment]
        name, budget = key.rsplit("@", 1)
        by_kind = {
            k: statistics.mean(
                ok for (ok, _, _), q in zip(outcomes, questions, strict=True) if q.kind == k
            )
            for k in kinds
        }
        out[key] = {
            "strategy": name,
            "budget": int(budget),
            "answered": statistics.mean(ok for ok, _, _ in outcomes),
            "by_kind": by_kind,
            "median_tokens": statistics.median(t for _, t, _ in outcomes),
            "misses": [qid for ok, _, qid in outcomes if not ok],
        }
    return out


def run(
    corpus: Corpus, label: str, overrides: dict[str, str]
) -> tuple[dict[str, object], dict[str, dict[str, object]]]:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        valkey = start_valkey(data / "valkey")
        settings = Settings(data_dir=data, **overrides)  # type: ignore[arg-type]
        embedder = build_embedder(settings)
        container = build_container(
            settings,
            valkey.connection_url,
            embedder=embedder,
            index=EdgeIndex(data / "edge", embedder.dimension),
        )
        try:
            svc = container.services
            one = feed(svc, "in-session", corpus, one_session=True)
            many = feed(svc, "fresh", corpus, one_session=False)
            turns = sum(len(s) for s in corpus.sessions)
            print(
                f"corpus {label}: {len(corpus.sessions)} sessions, {turns} turns, "
                f"{len(corpus.questions)} questions. In one session: fed in {one['feed_s']} s, "
                f"{one['compactions']} compactions, {one['trimmed_turns']} turns trimmed, "
                f"summary {one['summary_tokens']} tokens, {one['facts']} facts extracted. Per "
                f"session: fed in {many['feed_s']} s, {many['compactions']} compactions"
            )
            plans = {
                **baselines(svc, corpus),
                IN_SESSION: service_strategy(svc, "in-session", corpus, in_session=True),
                FRESH: service_strategy(svc, "fresh", corpus, in_session=False),
            }
            outcomes: dict[str, dict[str, object]] = {}
            for budget in BUDGETS:
                for name, strategy in plans.items():
                    rows = []
                    for q in corpus.questions:
                        included, tokens = strategy(q, budget)
                        rows.append((set(q.evidence) <= included, tokens, f"{label}:{q.id}"))
                    outcomes[f"{name}@{budget}"] = {"outcomes": rows}
            return {"in_session": one, "fresh": many}, outcomes
        finally:
            container.close()
            valkey.stop()


if __name__ == "__main__":
    main()
