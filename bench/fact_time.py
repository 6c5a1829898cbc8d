"""What a time-travel read of facts costs against a read of the present (issue 11: `as_of` and
`known_at` read every statement of the user, up to `HISTORY_LIMIT`, then keep those valid then).

One user with KEYS keys of VERSIONS statements each (event times a day apart, every version
superseding the one before), written straight to a fresh Valkey through the fact store (the
reads below touch records only). Timed in-process, median of 50 calls after 5 warm-ups:
`list_facts` of the present (first page of 100), `list_facts` with `as_of` in the middle of
the history, with `known_at` likewise, and `valid_fact_ids` (what `/v1/context` and search with
`as_of` run first).

    python -m bench fact_time [--keys 200,1000] [--versions 10]
"""

from __future__ import annotations

import dataclasses
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

START = datetime(2024, 1, 1, tzinfo=UTC)
CALLS, WARMUP = 50, 5


def _median_ms(call: Callable[[], object]) -> float:
    times = []
    for n in range(WARMUP + CALLS):
        started = time.perf_counter()
        call()
        if n >= WARMUP:
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def measure(keys: int, versions: int) -> None:
    from service.adapters.edge_index import EdgeIndex
    from service.adapters.hashing_embedder import HashingEmbedder
    from service.domain.models import Fact
    from service.logging import configure_logging
    from service.runtime.container import build_container
    from service.runtime.valkey import start_valkey
    from service.settings import Settings
    from service.usecases.facts import list_facts, valid_fact_ids

    configure_logging("console", "warning")
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), embedding_model_path="hashing")
        valkey = start_valkey(Path(tmp) / "valkey")
        try:
            built = build_container(
                settings, valkey.connection_url, HashingEmbedder(), EdgeIndex(Path(tmp) / "e", 384)
            )
            svc = built.services
            for v in range(versions):
                at = START + timedelta(days=v)
                for k in range(keys):
                    text = f"key {k} is {v}"
                    fact = Fact("bench", f"f{k}-{v}", "u", text, f"k{k}", "active", 1, at, at)
                    previous = svc.facts.active_for_key("bench", "u", f"k{k}")
                    superseded = None
                    if previous is not None:
                        superseded = dataclasses.replace(
                            previous, status="superseded", valid_to=at, superseded_by=fact.id
                        )
                    assert svc.facts.put(fact, previous, superseded)
            middle = START + timedelta(days=versions // 2, hours=12)
            present = _median_ms(lambda: list_facts(svc, "bench", "u", 0, 100))
            as_of = _median_ms(lambda: list_facts(svc, "bench", "u", 0, 100, as_of=middle))
            known = _median_ms(lambda: list_facts(svc, "bench", "u", 0, 100, known_at=middle))
            ids = _median_ms(lambda: valid_fact_ids(svc, "bench", "u", middle, None))
            assert len(valid_fact_ids(svc, "bench", "u", middle, None)) == keys
            built.close()
        finally:
            valkey.stop()
    print(
        f"{keys * versions:>6} statements ({keys} keys x {versions}): list_facts present "
        f"{present:7.2f} ms, as_of {as_of:7.2f} ms ({as_of / present:.0f}x), known_at "
        f"{known:7.2f} ms, valid_fact_ids(as_of) {ids:7.2f} ms"
    )


def main() -> None:
    args = sys.argv[1:]
    sizes = args[args.index("--keys") + 1] if "--keys" in args else "200,1000"
    versions = int(args[args.index("--versions") + 1]) if "--versions" in args else 10
    for keys in (int(k) for k in sizes.split(",")):
        measure(keys, versions)


if __name__ == "__main__":
    main()
