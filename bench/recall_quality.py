"""Retrieval quality of conversation memory (issue 4), on a seeded multi-session corpus.

The corpus (bench/conversations.py) is fed through the service's own paths: each turn appended,
indexed and compacted as the workers do it (so old turns are summarized and trimmed from the
log, and recalled from their vectors). Then each question is asked from a new session of the
same user, and three strategies assemble a context within budgets of 512, 1,024 and 2,048
tokens:

- recency-only: the newest turns of the whole conversation, as many as fit;
- dense-only: turns ranked by cosine similarity to the question (same embedder), as many as fit;
- service: POST /v1/context's assembly (`recall_scope="user"`: hybrid dense + sparse search,
  rank fusion, recency prior, neighbouring turns), in-process.

A question counts as answered when every one of its evidence turns is in the context verbatim.
Reported per budget and strategy: that share (overall and per question kind) and the median
tokens spent.

    python -m bench recall_quality [--seed 7]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.household_corpus import Corpus, Question, Turn, generate
from bench.stats import save
from service.adapters.edge_index import EdgeIndex
from service.domain.chat_format import message_tokens
from service.domain.models import NewMessage
from service.logging import configure_logging
from service.runtime.container import build_container, build_embedder
from service.runtime.valkey import start_valkey
from service.settings import Settings
from service.usecases import sessions
from service.usecases.compaction import compact_session
from service.usecases.context import ContextRequest, assemble_context
from service.usecases.indexing import index_messages
from service.usecases.services import Services

BUDGETS = (512, 1024, 2048)
TENANT = "bench"
Strategy = Callable[[Question, int], tuple[set[str], int]]


def feed(svc: Services, corpus: Corpus) -> dict[str, float]:
    """Append, index and compact every session as the workers would; returns what it did."""
    started = time.perf_counter()
    compactions = 0
    for turns in corpus.sessions:
        session_id = turns[0].session_id
        for turn in turns:
            message = NewMessage(
                role=turn.role,  # type: ignore[arg-type]
                content=turn.content,
                id=turn.id,
                name=turn.name if turn.role == "user" else None,
                created_at=turn.created_at,
            )
            result = sessions.append_messages(svc, TENANT, session_id, corpus.user_id, [message])
            index_messages(svc, TENANT, session_id, result.epoch, result.new_ids)
            if compact_session(svc, TENANT, session_id, result.epoch)["status"] == "compacted":
                compactions += 1
    trimmed = 0
    for turns in corpus.sessions:
        info = svc.sessions.info(TENANT, turns[0].session_id)
        trimmed += info.trimmed if info else 0
    return {
        "feed_s": round(time.perf_counter() - started, 2),
        "compactions": compactions,
        "trimmed_turns": trimmed,
    }


def tokens_of(svc: Services, turn: Turn) -> int:
    chat = {"role": turn.role, "content": turn.content, "name": turn.name}
    return message_tokens(chat, lambda t: svc.tokenizer.count(t, svc.settings.default_model))


def pack(order: list[Turn], cost: dict[str, int], budget: int) -> tuple[set[str], int]:
    """Take turns in `order` while they fit (a baseline's context: the turns verbatim)."""
    chosen: set[str] = set()
    used = 3  # reply priming, as the service counts it
    for turn in order:
        if used + cost[turn.id] > budget:
            break
        chosen.add(turn.id)
        used += cost[turn.id]
    return chosen, used


def strategies(svc: Services, corpus: Corpus) -> dict[str, Strategy]:
    turns = [t for session in corpus.sessions for t in session]
    cost = {t.id: tokens_of(svc, t) for t in turns}
    vectors = np.array(svc.embedder.embed([t.content for t in turns]), dtype=np.float32)
    newest_first = sorted(turns, key=lambda t: t.created_at, reverse=True)

    def recency(question: Question, budget: int) -> tuple[set[str], int]:
        return pack(newest_first, cost, budget)

    def dense(question: Question, budget: int) -> tuple[set[str], int]:
        [q] = svc.embedder.embed([question.text])
        scores = vectors @ np.array(q, dtype=np.float32)
        order = [turns[i] for i in np.argsort(-scores)]
        return pack(order, cost, budget)

    def service(question: Question, budget: int) -> tuple[set[str], int]:
        request = ContextRequest(
            session_id=f"ask-{question.id}",
            user_id=corpus.user_id,
            budget_tokens=budget,
            query=question.text,
            recall_scope="user",
        )
        ctx = assemble_context(svc, TENANT, request)
        included = {i["id"] for i in ctx["items"] if i["kind"] == "message"}
        return included, int(ctx["usage"]["total"])

    return {"recency-only": recency, "dense-only": dense, "service": service}


def evaluate(corpus: Corpus, plans: dict[str, Strategy]) -> dict[str, dict[str, object]]:
    results: dict[str, dict[str, object]] = {}
    kinds = sorted({q.kind for q in corpus.questions})
    for budget in BUDGETS:
        for name, strategy in plans.items():
            hits: dict[str, list[bool]] = {k: [] for k in kinds}
            spent: list[int] = []
            misses: list[str] = []
            for question in corpus.questions:
                included, tokens = strategy(question, budget)
                ok = set(question.evidence) <= included
                hits[question.kind].append(ok)
                spent.append(tokens)
                if not ok:
                    misses.append(question.id)
            every = [ok for oks in hits.values() for ok in oks]
            results[f"{name}@{budget}"] = {
                "strategy": name,
                "budget": budget,
                "answered": sum(every) / len(every),
                "by_kind": {k: sum(v) / len(v) for k, v in hits.items() if v},
                "median_tokens": statistics.median(spent),
                "misses": misses,
            }
    return results


def report(results: dict[str, dict[str, object]], kinds: list[str]) -> None:
    head = f"{'budget':>6}  {'strategy':<13}{'all evidence':>13}" + "".join(
        f"{k:>12}" for k in kinds
    )
    print(head + f"{'median tokens':>15}")
    for r in results.values():
        by_kind: dict[str, float] = r["by_kind"]  # type: ignore[assignment]
        print(
            f"{r['budget']:>6}  {r['strategy']!s:<13}{r['answered']:>12.1%} "
            + "".join(f"{by_kind.get(k, 0.0):>12.1%}" for k in kinds)
            + f"{r['median_tokens']:>15}"
        )
    for budget in BUDGETS:
        service = results[f"service@{budget}"]["answered"]
        dense = results[f"dense-only@{budget}"]["answered"]
        verdict = "beats" if service > dense else "does NOT beat"  # type: ignore[operator]
        print(f"budget {budget}: service {verdict} dense-only ({service:.1%} vs {dense:.1%})")
    at_2048 = results["service@2048"]["answered"]
    print(f"service at 2048: {at_2048:.1%} of questions with all evidence (target >= 90%)")


# Two runs: the embedded defaults (these sessions stay inside the 2,048-token window, so
# nothing is compacted), and a small window that folds and trims most of every session, so
# that recall must serve trimmed turns from their vectors.
CONFIGS = {
    "defaults": {},
    "compacting (window 256)": {"summary_window_tokens": "256", "summary_threshold_tokens": "128"},
}


def options(args: list[str]) -> tuple[int, dict[str, str]]:
    """`--seed N` (default 7) and `--set key=value` (any setting, e.g. --set
    context_recall_limit=20, for tuning runs) from the command line."""
    seed = int(args[args.index("--seed") + 1]) if "--seed" in args else 7
    sets = dict(a.split("=", 1) for i, a in enumerate(args) if i and args[i - 1] == "--set")
    return seed, sets


def main() -> None:
    """`python -m bench recall_quality [--seed N] [--set key=value ...]`."""
    seed, overrides = options(sys.argv[1:])
    configure_logging("console", "warning")
    corpus = generate(seed)
    configs = {"as set": overrides} if overrides else CONFIGS
    for label, config in configs.items():
        print(f"-- settings: {label} {config or ''}".rstrip())
        run(corpus, seed, label, config)


def run(corpus: Corpus, seed: int, label: str, overrides: dict[str, str]) -> None:
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
            fed = feed(svc, corpus)
            turns = sum(len(s) for s in corpus.sessions)
            print(
                f"corpus seed {seed}: {len(corpus.sessions)} sessions, {turns} turns, "
                f"{len(corpus.questions)} questions; fed in {fed['feed_s']} s with "
                f"{fed['compactions']} compactions, {fed['trimmed_turns']} turns trimmed from "
                "the log"
            )
            results = evaluate(corpus, strategies(svc, corpus))
            report(results, sorted({q.kind for q in corpus.questions}))
            name = "recall_quality" + ("" if label == "defaults" else "_" + label.split()[0])
            save(name, {"seed": seed, "settings": overrides, **fed, "results": results})
        finally:
            container.close()
            valkey.stop()


if __name__ == "__main__":
    main()
