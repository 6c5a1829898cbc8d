"""`make bench`: run every benchmark and print its numbers (`python -m bench NAME` for one).

Options after the names are the suites' own, e.g. `python -m bench recall_quality --seed 11
--set context_recall_limit=20`; each suite reads what it knows from sys.argv.
"""

from __future__ import annotations

import sys

from bench import (
    console_pages,
    context_ab,
    context_latency,
    documents,
    durability,
    extraction,
    fact_time,
    foundation,
    load,
    long_session,
    metrics_scrape,
    recall_quality,
    sdk_overhead,
)

SUITES = {
    "foundation": foundation.main,
    "documents": documents.main,
    "recall_quality": recall_quality.main,
    "long_session": long_session.main,
    "extraction": extraction.main,
    "context_ab": context_ab.main,
    "fact_time": fact_time.main,
    "context_latency": context_latency.main,
    "metrics_scrape": metrics_scrape.main,
    "console_pages": console_pages.main,
    "durability": durability.main,
    "load": load.main,
    "sdk_overhead": sdk_overhead.main,
}
# `python -m bench conversation` (the file's old name, still in issue texts and notes).
ALIASES = {"conversation": "long_session"}


def _names(args: list[str]) -> list[str]:
    """The leading arguments that are not options (the suites to run)."""
    names: list[str] = []
    for arg in args:
        if arg.startswith("-"):
            break
        names.append(arg)
    return names


if __name__ == "__main__":
    chosen = [ALIASES.get(name, name) for name in _names(sys.argv[1:])] or list(SUITES)
    unknown = [name for name in chosen if name not in SUITES]
    if unknown:
        sys.exit(f"unknown benchmark {unknown}; choose from {', '.join(SUITES)}")
    for name in chosen:
        print(f"== {name}", flush=True)
        SUITES[name]()
