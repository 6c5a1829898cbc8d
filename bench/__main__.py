"""`make bench`: run every benchmark and print its numbers (`python -m bench NAME` for one)."""

from __future__ import annotations

import sys

from bench import conversation, documents, foundation, recall_quality

SUITES = {
    "foundation": foundation.main,
    "documents": documents.main,
    "recall_quality": recall_quality.main,
    "conversation": conversation.main,
}

if __name__ == "__main__":
    chosen = sys.argv[1:] or list(SUITES)
    unknown = [name for name in chosen if name not in SUITES]
    if unknown:
        sys.exit(f"unknown benchmark {unknown}; choose from {', '.join(SUITES)}")
    for name in chosen:
        print(f"== {name}", flush=True)
        SUITES[name]()
