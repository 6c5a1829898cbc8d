"""Conversation-memory benchmarks: log compaction throughput, and /v1/context on a long session.

1. Compaction throughput, in-process (the service's own use cases, as the workers run them):
   20 sessions of 500 turns are appended, indexed and compacted. Indexing uses the model-free
   HashingEmbedder (compaction never embeds; the real embedder would only slow the set-up);
   token counts are real (tiktoken) and the summarizer is the built-in extractive one. Two ways
   of feeding: incremental (batches of 10 turns, each indexed, then `compact_session` until
   `nothing_to_fold`, as the workers do after every indexing job) and bulk (all 500 turns
   appended and indexed, then compaction). Reported: turns and tokens folded per second of
   compaction, ms per compaction step, trimmed turns, the summarizer's own share; once more
   with the `compact` fidelity tier.
2. POST /v1/context on one 10,000-turn session with a rolling summary and recall of trimmed
   turns, against a real `cmem serve` subprocess over HTTP (real default embedder; its own
   worker indexes and compacts). The turns go in as requests of 500, at most 1,000 turns ahead
   of indexing (see MAX_AHEAD). Reported: indexing time, the session's stats, client latency of
   300 context calls about old (trimmed) turns, the Server-Timing parts, whether each context
   held summary, recall and history, GET /healthz as the HTTP floor, and the server log's
   warnings and errors. Then a 300-turn session beside it, asked about any of its turns.

    python -m bench long_session
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import statistics
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx

from bench.http_context import measure_context
from bench.stats import line, pct, save
from harness.served import Served, wait_pending_zero
from service.adapters.edge_index import EdgeIndex
from service.adapters.hashing_embedder import HashingEmbedder
from service.domain.models import Message, NewMessage
from service.logging import configure_logging
from service.ports import Summarizer
from service.runtime.container import build_container
from service.runtime.valkey import start_valkey
from service.settings import Settings
from service.usecases import sessions
from service.usecases.compaction import compact_session, policy
from service.usecases.indexing import index_messages
from service.usecases.services import Services

N_SESSIONS = 20
TURNS_PER_SESSION = 500
INCREMENT = 10  # turns per append + indexing job in the incremental feed
LONG_TURNS = 10_000
SHORT_TURNS = 300
APPEND_BATCH = 500  # max_batch_messages
CONTEXT_CALLS = 300
WARMUP_CALLS = 20
# Appends wait while more than this many turns await indexing. Not throttling here: when
# everything lands before the first compaction, the unsummarized log is ~10,000 turns and every
# compaction fails (the log-range Lua script unpacks all ids at once: Lua's unpack limit).
MAX_AHEAD = 1_000
WAIT_TIMEOUT_S = 15 * 60
SETTLE_S = 3.0
STALL_S = 60.0  # all indexed, and no summary / trimming progress for this long: give up waiting
USER = "bench"


def _words(text: str, sep: str = " ") -> tuple[str, ...]:
    return tuple(text.split(sep))


FIRST = _words(
    "Lena Omar Grace Felix Hana Diego Ines Kofi Sofia Marek Yuki Amara Luca Nadia Tariq Elif "
    "Bruno Chloe Ravi Zara Jonas Mei Theo Ayesha Pablo Wren Idris Freya Soren Leila"
)
CITIES = _words(
    "Kyoto Lisbon Oslo Nairobi Denver Porto Hanoi Tallinn Quito Seville Bergen Cusco Dakar "
    "Krakow Perth Montreal"
)
ITEMS = _words(
    "passport renewal|dentist appointment|car insurance|kitchen renovation|piano lessons|"
    "tax return|wedding gift|laptop repair|gym membership|mortgage application|"
    "conference flight|birthday dinner|garden fence|visa interview|moving truck|boiler service",
    "|",
)
FOODS = _words("peanuts|shellfish|gluten|sesame|dairy|eggs|kiwi|mustard", "|")
DISHES = _words("lentil stew|roast vegetables|risotto|paella|curry|lasagne", "|")
JOBS = _words("robotics|shipping|biotech|solar|insurance|games|logistics|fintech", "|")
MONTHS = _words(
    "January February March April May June July August September October November December"
)
WEEKDAYS = _words("Monday Tuesday Wednesday Thursday Friday Saturday Sunday")

# (user turn, assistant reply, question about the user turn), same fields for all three.
EXCHANGES = (
    (
        "{a} and I decided to book the {item} for {month} {d}; it should cost about {n} dollars "
        "and {b} offered to split it with us.",
        "Got it: the {item} is on {month} {d}, about {n} dollars, and {b} will split it. Do you "
        "want a reminder {k} days before?",
        "How much will the {item} that {a} and I booked cost, and who splits it?",
    ),
    (
        "Quick update: the {item} moved to {weekday} at {h}:{mm}, and {a} needs the confirmation "
        "code {code} before then.",
        "Noted. Since {a} needs code {code}, send it by {weekday} morning so there is time to "
        "check it before {h}:{mm}.",
        "Which confirmation code does {a} need for the {item}?",
    ),
    (
        "My cousin {a} just moved to {city} for a job at a {job} company, starting on {month} "
        "{d}, {year}.",
        "That is exciting for {a}. {city} in {month} is usually mild; remember to update the "
        "address for the {item} too.",
        "Where did my cousin {a} move, and when does the {job} job start?",
    ),
    (
        "Please keep in mind that {a} is allergic to {food}. We are hosting dinner for {k} people "
        "on {weekday} the {d}th.",
        "Understood: no {food} for {a}. For {k} guests a {dish} works well and can be made the "
        "day before.",
        "What is {a} allergic to?",
    ),
    (
        "I paid {n} euros for the {item} yesterday, invoice {code}; {a} says the refund window "
        "is {k} days.",
        "With invoice {code} and a {k}-day refund window, the last day to ask for the {item} "
        "refund is {month} {d}.",
        "What was the invoice number for the {item} I paid {n} euros for?",
    ),
    (
        "We chose {city} over {city2} for the team offsite in {month} {year}; {a} will handle the "
        "hotel for {k} nights.",
        "Good choice. I will remember that {a} books the hotel in {city} for {k} nights, within "
        "the {n} dollar budget.",
        "Which city did we pick over {city2} for the offsite, and who books the hotel?",
    ),
    (
        "{a} called about the {item}: the new deadline is {weekday}, {month} {d}, and the fee "
        "went up to {n} dollars.",
        "Thanks. The {item} deadline is now {weekday}, {month} {d}; the fee of {n} dollars is "
        "{k} percent more than before.",
        "What is the new deadline for the {item} that {a} called about?",
    ),
    (
        "Remember that {a}'s flight from {city} lands at {h}:{mm} on {month} {d}, flight number "
        "{code}, and {b} is picking them up.",
        "Saved: flight {code} from {city}, landing {h}:{mm} on {month} {d}; {b} does the pickup.",
        "When does {a}'s flight from {city} land, and who picks them up?",
    ),
)


@dataclass(frozen=True, slots=True)
class Turn:
    id: str
    role: Literal["user", "assistant"]
    content: str


@dataclass(frozen=True, slots=True)
class Question:
    turn_index: int  # the user turn it asks about
    text: str


def conversation(rng: random.Random, prefix: str, turns: int) -> tuple[list[Turn], list[Question]]:
    """`turns` alternating user/assistant turns (names, numbers, dates), and one question per
    user turn about what it said."""
    out: list[Turn] = []
    questions: list[Question] = []
    while len(out) < turns:
        user, reply, question = rng.choice(EXCHANGES)
        a, b = rng.sample(FIRST, 2)
        city, city2 = rng.sample(CITIES, 2)
        fields = {
            "a": a,
            "b": b,
            "city": city,
            "city2": city2,
            "item": rng.choice(ITEMS),
            "food": rng.choice(FOODS),
            "dish": rng.choice(DISHES),
            "job": rng.choice(JOBS),
            "month": rng.choice(MONTHS),
            "weekday": rng.choice(WEEKDAYS),
            "d": str(rng.randint(1, 28)),
            "year": str(rng.randint(2024, 2028)),
            "n": str(rng.randint(40, 9_000)),
            "k": str(rng.randint(2, 30)),
            "h": str(rng.randint(6, 22)),
            "mm": f"{rng.choice((0, 15, 20, 30, 45, 50)):02d}",
            "code": f"{rng.choice('ABCDEFGHKLMNPRSTUVXZ')}{rng.randint(1000, 99999)}",
        }
        i = len(out)
        out.append(Turn(f"{prefix}{i:05d}", "user", user.format(**fields)))
        questions.append(Question(i, question.format(**fields)))
        out.append(Turn(f"{prefix}{i + 1:05d}", "assistant", reply.format(**fields)))
    return out[:turns], [q for q in questions if q.turn_index < turns]


# --- 1. compaction throughput, in-process -------------------------------------------------


class TimedSummarizer:
    """The configured summarizer, timed: each fold's ms, turns and tokens."""

    def __init__(self, inner: Summarizer) -> None:
        self.inner = inner
        self.name = inner.name
        self.ms: list[float] = []
        self.turns: list[int] = []
        self.tokens: list[int] = []

    def summarize(self, previous: str, turns: Sequence[Message], target_tokens: int) -> str:
        t = time.perf_counter()
        text = self.inner.summarize(previous, turns, target_tokens)
        self.ms.append((time.perf_counter() - t) * 1000)
        self.turns.append(len(turns))
        self.tokens.append(sum(m.tokens for m in turns))
        return text


def feed_session(
    svc: Services, tenant: str, session_id: str, turns: list[Turn], increment: int
) -> tuple[list[float], list[float], int, float]:
    """Append and index `increment` turns at a time; after each increment when `increment` is
    smaller than the session, else once at the end, compact until nothing is left to fold.
    Returns (ms per compacting step, ms per no-op step, turns trimmed, s spent appending and
    indexing)."""
    steps: list[float] = []
    noops: list[float] = []
    trimmed = 0
    feeding = 0.0
    epoch = 0
    for start in range(0, len(turns), increment):
        t = time.perf_counter()
        new: list[str] = []
        # Appends in request-sized batches; one indexing job per increment.
        for b in range(start, min(start + increment, len(turns)), APPEND_BATCH):
            batch = turns[b : min(b + APPEND_BATCH, start + increment, len(turns))]
            messages = [NewMessage(role=x.role, content=x.content, id=x.id) for x in batch]
            result = sessions.append_messages(svc, tenant, session_id, USER, messages)
            epoch = result.epoch
            new += result.new_ids
        index_messages(svc, tenant, session_id, epoch, new)
        feeding += time.perf_counter() - t
        while True:
            t = time.perf_counter()
            result_ = compact_session(svc, tenant, session_id, epoch)
            elapsed = (time.perf_counter() - t) * 1000
            cut = result_.get("trimmed", 0)
            trimmed += cut if isinstance(cut, int) else 0
            if result_["status"] != "compacted":
                noops.append(elapsed)
                break
            steps.append(elapsed)
    return steps, noops, trimmed, feeding


def compaction_pass(
    svc: Services, tenant: str, corpus: list[list[Turn]], increment: int, label: str
) -> dict[str, Any]:
    timed = TimedSummarizer(svc.summarizer)
    svc.summarizer = timed
    steps: list[float] = []
    noops: list[float] = []
    trimmed = 0
    feeding = 0.0
    started = time.perf_counter()
    for n, turns in enumerate(corpus):
        s, o, t, f = feed_session(svc, tenant, f"s{n:03d}", turns, increment)
        steps += s
        noops += o
        trimmed += t
        feeding += f
    wall = time.perf_counter() - started
    svc.summarizer = timed.inner
    stored_trimmed = 0
    versions: list[int] = []
    for n in range(len(corpus)):
        info = svc.sessions.info(tenant, f"s{n:03d}")
        stored_trimmed += info.trimmed if info else 0
        summary = svc.summaries.get(tenant, f"s{n:03d}")
        versions.append(summary.version if summary else 0)
    compact_s = sum(steps) / 1000
    folded_turns, folded_tokens = sum(timed.turns), sum(timed.tokens)
    turns_total = sum(len(t) for t in corpus)
    print(
        f"-- {label}: {len(corpus)} sessions x {len(corpus[0])} turns = {turns_total} turns, "
        f"{folded_tokens} tokens folded; appended+indexed in {feeding:.1f} s, "
        f"whole pass {wall:.1f} s"
    )
    rules = policy(svc)
    if rules is not None:
        print(
            f"  policy: window {rules.window_tokens}, threshold {rules.threshold_tokens}, "
            f"target {rules.target_tokens} tokens"
        )
    print(
        f"{'  compaction':<46} {folded_turns / compact_s:8.0f} turns/s   "
        f"{folded_tokens / compact_s:9.0f} tokens/s   ({len(steps)} steps, {folded_turns} turns "
        f"folded in {compact_s:.2f} s; median {statistics.median(timed.turns):.0f} turns, "
        f"{statistics.median(timed.tokens):.0f} tokens per fold)"
    )
    print(line("  compact_session, a step that folded", steps))
    print(line("  compact_session, nothing to fold", noops))
    share = sum(timed.ms) / sum(steps)
    print(line("  summarizer alone, same folds", timed.ms, f"{share:.0%} of compaction time"))
    print(
        f"{'  trimmed turns':<46} {trimmed} by the steps ({stored_trimmed} per session stats); "
        f"summary versions per session: median {statistics.median(versions):.0f}, "
        f"max {max(versions)}"
    )
    return {
        "label": label,
        "increment": increment,
        "turns": turns_total,
        "feed_s": feeding,
        "wall_s": wall,
        "step_ms": steps,
        "noop_ms": noops,
        "summarizer_ms": timed.ms,
        "fold_turns": timed.turns,
        "fold_tokens": timed.tokens,
        "folded_turns_per_s": folded_turns / compact_s,
        "folded_tokens_per_s": folded_tokens / compact_s,
        "trimmed": trimmed,
        "trimmed_stored": stored_trimmed,
        "summary_versions": versions,
    }


def bench_compaction(results: dict[str, object]) -> None:
    rng = random.Random(5)
    corpus = [conversation(rng, "t", TURNS_PER_SESSION)[0] for _ in range(N_SESSIONS)]
    print(
        "compaction, in-process: HashingEmbedder for indexing (compaction does not embed), "
        "tiktoken counts, extractive summarizer"
    )
    passes = (
        ("balanced, incremental (10 turns per job)", "balanced", INCREMENT, "inc"),
        ("balanced, bulk (500 turns, then compaction)", "balanced", TURNS_PER_SESSION, "bulk"),
        ("compact tier, incremental (10 turns per job)", "compact", INCREMENT, "compact"),
    )
    with tempfile.TemporaryDirectory(prefix="cmem-bench-conv-") as tmp:
        data = Path(tmp)
        valkey = start_valkey(data / "valkey")
        try:
            out = []
            for label, tier, increment, tenant in passes:
                overrides: dict[str, Any] = {"data_dir": data, "summary_fidelity": tier}
                settings = Settings(**overrides)
                embedder = HashingEmbedder()
                container = build_container(
                    settings,
                    valkey.connection_url,
                    embedder=embedder,
                    index=EdgeIndex(data / f"edge-{tenant}", embedder.dimension),
                )
                try:
                    out.append(
                        compaction_pass(container.services, tenant, corpus, increment, label)
                    )
                finally:
                    container.close()
        finally:
            valkey.stop()
    results["compaction"] = out


# --- 2. /v1/context on a 10,000-turn session over HTTP ----------------------------------------


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            found += [child, *_descendants(child)]
    return found


def stop_served(served: Served) -> None:
    """SIGTERM (the service stops its worker and Valkey); SIGKILL what is left if that hangs."""
    if served.proc.poll() is not None:
        return
    children = _descendants(served.proc.pid)
    try:
        served.stop(timeout=60)
    except subprocess.TimeoutExpired:
        served.proc.kill()
        served.proc.wait(10)
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def server_problems(served: Served) -> dict[str, tuple[int, str]]:
    """Warning and error lines of the server's JSON log (and any line that is not JSON),
    grouped by event: {level event: (count, first line)}."""
    out: dict[str, tuple[int, str]] = {}
    for raw in served.output:
        text = raw.strip()
        if not text or text.startswith("listening on"):
            continue
        try:
            entry = json.loads(text)
        except ValueError:
            entry = None
        if isinstance(entry, dict):
            if entry.get("level") not in ("warning", "error", "critical"):
                continue
            key = f"{entry.get('level')} {entry.get('event')}"
        else:
            key = "not JSON (stderr text)"
        count, first = out.get(key, (0, text))
        out[key] = (count + 1, first)
    return out


def print_problems(problems: dict[str, tuple[int, str]]) -> None:
    total = sum(count for count, _ in problems.values())
    print(f"  server log: {total} warning/error lines")
    for key, (count, first) in problems.items():
        print(f"    {count:5d} x {key}: {first[:400]}")


def session_view(http: httpx.Client, session_id: str) -> dict[str, Any]:
    r = http.get(f"/v1/sessions/{session_id}")
    r.raise_for_status()
    body: dict[str, Any] = r.json()
    return body


def describe(view: dict[str, Any]) -> str:
    summary = view["summary"]
    s = "none" if summary is None else f"v{summary['version']} last_seq {summary['last_seq']}"
    return (
        f"messages {view['messages']}, indexed {view['indexed']}, pending {view['pending']}, "
        f"trimmed {view['trimmed']}, summary {s}"
    )


def append_paced(
    http: httpx.Client, session_id: str, turns: list[Turn], started: float
) -> list[float]:
    """All turns in requests of APPEND_BATCH, never more than MAX_AHEAD turns ahead of the
    worker's indexing (a live conversation grows while its worker keeps up)."""
    append_ms: list[float] = []
    last_print = time.perf_counter()
    for start in range(0, len(turns), APPEND_BATCH):
        while start and session_view(http, session_id)["pending"] > MAX_AHEAD - APPEND_BATCH:
            if time.perf_counter() - started > WAIT_TIMEOUT_S:
                raise TimeoutError(f"indexing stalled: {describe(session_view(http, session_id))}")
            if time.perf_counter() - last_print >= 5:
                view = session_view(http, session_id)
                print(f"  {time.perf_counter() - started:6.1f} s: {describe(view)}", flush=True)
                last_print = time.perf_counter()
            time.sleep(0.1)
        batch = [
            {"id": x.id, "role": x.role, "content": x.content}
            for x in turns[start : start + APPEND_BATCH]
        ]
        t = time.perf_counter()
        http.post(
            f"/v1/sessions/{session_id}/messages",
            json={"user_id": USER, "messages": batch},
            timeout=120,
        ).raise_for_status()
        append_ms.append((time.perf_counter() - t) * 1000)
    return append_ms


def wait_compacted(http: httpx.Client, session_id: str, started: float) -> dict[str, Any]:
    """Until every turn is indexed, a summary exists and turns were trimmed; then until the
    summary version and the trimmed count hold still for SETTLE_S. Progress every 5 s. Gives up
    (`_stalled`) when all is indexed but nothing changes for STALL_S, or at WAIT_TIMEOUT_S."""
    deadline = started + WAIT_TIMEOUT_S
    last_print = time.perf_counter()
    indexed_at: float | None = None
    stable_since, seen = time.perf_counter(), (-1, -1)
    while True:
        view = session_view(http, session_id)
        now = time.perf_counter()
        summary = view["summary"]
        if view["pending"] == 0 and indexed_at is None:
            indexed_at = now
            rate = LONG_TURNS / (now - started)
            slow = "  (much slower than the ~200 turns/s expected)" if rate < 100 else ""
            print(
                f"  all {LONG_TURNS} turns indexed after {now - started:.1f} s: {rate:.0f} "
                f"turns/s{slow}"
            )
        state = (summary["version"] if summary else -1, view["trimmed"])
        if state != seen:
            seen, stable_since = state, now
        done = view["pending"] == 0 and summary is not None and view["trimmed"] > 0
        stalled = view["pending"] == 0 and not done and now - stable_since >= STALL_S
        if (done and now - stable_since >= SETTLE_S) or stalled or now > deadline:
            if not done:
                print(
                    f"  GAVE UP waiting after {now - started:.1f} s (no summary or nothing "
                    f"trimmed, nothing changing for {now - stable_since:.0f} s): {describe(view)}"
                )
            view["_indexed_s"] = (indexed_at or now) - started
            view["_settled_s"] = now - started
            view["_stalled"] = not done
            return view
        if now - last_print >= 5:
            print(f"  {now - started:6.1f} s: {describe(view)}", flush=True)
            last_print = now
        time.sleep(0.25)


def context_on_old_turns(
    http: httpx.Client, rng: random.Random, session_id: str, questions: list[Question]
) -> dict[str, Any]:
    """Context calls about random questions, and what each context held."""
    picked = [rng.choice(questions) for _ in range(WARMUP_CALLS + CONTEXT_CALLS)]
    requests = [
        {"session_id": session_id, "user_id": USER, "budget_tokens": 4096, "query": q.text}
        for q in picked
    ]
    calls = measure_context(http, requests, WARMUP_CALLS)
    all_three = 0
    target_recalled = 0
    usages: list[dict[str, int]] = []
    for question, ctx in zip(picked[WARMUP_CALLS:], calls.bodies, strict=True):
        parts = ctx["usage"]["by_component"]
        usages.append(parts)
        if all(parts.get(c, 0) > 0 for c in ("summary", "recall", "history")):
            all_three += 1
        wanted = f"L{question.turn_index:05d}"
        if any(item["id"] == wanted and item["kind"] == "message" for item in ctx["items"]):
            target_recalled += 1
    return {
        "total": calls.total,
        "embed": calls.embed,
        "assemble": calls.assemble,
        "without_embed": calls.without_embed,
        "server": calls.server,
        "all_three": all_three,
        "target_recalled": target_recalled,
        "by_component_median": {
            c: statistics.median(u.get(c, 0) for u in usages)
            for c in sorted({c for u in usages for c in u})
        },
    }


def bench_long_session(results: dict[str, object]) -> None:
    rng = random.Random(11)
    turns, questions = conversation(rng, "L", LONG_TURNS)
    session_id = "long"
    with tempfile.TemporaryDirectory(
        prefix="cmem-bench-conv-long-", ignore_cleanup_errors=True
    ) as tmp:
        served = Served(Path(tmp))
        finished = False
        try:
            ready = served.wait_ready(120)
            print(
                f"cmem serve ready in {ready:.1f} s (real default embedder); appending "
                f"{LONG_TURNS} turns, {APPEND_BATCH} per request, at most {MAX_AHEAD} ahead of "
                "indexing"
            )
            with served.client() as http:
                started = time.perf_counter()
                append_ms = append_paced(http, session_id, turns, started)
                print(
                    f"  appended {LONG_TURNS} turns after {time.perf_counter() - started:.1f} s "
                    f"({len(append_ms)} requests, median {statistics.median(append_ms):.0f} ms "
                    "each)"
                )
                view = wait_compacted(http, session_id, started)
                print(
                    f"{'indexing of 10,000 turns (worker)':<46} {view['_indexed_s']:8.1f} s   "
                    f"{LONG_TURNS / view['_indexed_s']:6.0f} turns/s;  compaction settled at "
                    f"{view['_settled_s']:.1f} s"
                )
                print(f"  session: {describe(view)}")
                summary = view["summary"]
                # Questions about turns the summary covers (trimmed from the log by now).
                last = summary["last_seq"] if summary else LONG_TURNS - 200
                old = [q for q in questions if q.turn_index <= last]

                floor: list[float] = []
                for _ in range(300):
                    t = time.perf_counter()
                    http.get("/healthz").raise_for_status()
                    floor.append((time.perf_counter() - t) * 1000)
                ctx = context_on_old_turns(http, rng, session_id, old)
                # A short session beside it: 300 turns, asked about any of them.
                short_turns, short_questions = conversation(rng, "S", SHORT_TURNS)
                append_paced(http, "short", short_turns, time.perf_counter())
                wait_pending_zero(http, "short")
                short = context_on_old_turns(http, rng, "short", short_questions)
            finished = True
        finally:
            stop_served(served)
            problems = server_problems(served)
            if not finished:
                print_problems(problems)

    n = len(ctx["total"])
    print(line("POST /v1/context, 10k-turn session", ctx["total"], "target p50 <= 15 ms"))
    print(line("  server: embed (Server-Timing)", ctx["embed"]))
    print(line("  server: assemble incl. embed (Server-Timing)", ctx["assemble"]))
    asm = ctx["server"]
    print(line("  server: assemble without embed", asm))
    print(line("  client total minus embed", ctx["without_embed"]))
    print(line("  HTTP floor: GET /healthz, same client", floor))
    print(
        line(f"POST /v1/context, {SHORT_TURNS}-turn session", short["total"], "target p50 <= 10 ms")
    )
    print(line("  server: assemble incl. embed (Server-Timing)", short["assemble"]))
    print(
        f"  contexts with summary, recall and history all > 0: {ctx['all_three']} of {n}; "
        f"median tokens by component {ctx['by_component_median']}"
    )
    print(
        f"  contexts holding the (trimmed) turn the question was written from: "
        f"{ctx['target_recalled']} of {n}"
    )
    print_problems(problems)
    results["long_session"] = {
        "turns": LONG_TURNS,
        "max_ahead": MAX_AHEAD,
        "append_ms": append_ms,
        "indexed_s": view["_indexed_s"],
        "settled_s": view["_settled_s"],
        "stalled": view["_stalled"],
        "session": {k: v for k, v in view.items() if not k.startswith("_")},
        "context_ms": ctx["total"],
        "embed_ms": ctx["embed"],
        "assemble_ms": ctx["assemble"],
        "assemble_without_embed_ms": asm,
        "client_without_embed_ms": ctx["without_embed"],
        "healthz_ms": floor,
        "all_three": ctx["all_three"],
        "target_recalled": ctx["target_recalled"],
        "by_component_median": ctx["by_component_median"],
        "context_p50_ms": statistics.median(ctx["total"]),
        "short_context_ms": short["total"],
        "short_context_p50_ms": statistics.median(short["total"]),
        "context_p99_ms": pct(ctx["total"], 99),
        "server_problems": {k: [c, first] for k, (c, first) in problems.items()},
    }


def main() -> None:
    configure_logging("console", "warning")
    results: dict[str, object] = {}
    bench_compaction(results)
    bench_long_session(results)
    save("long_session", results)
