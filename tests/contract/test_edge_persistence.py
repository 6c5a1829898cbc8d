"""Qdrant Edge specifics: data survives reopening; a second opener is refused clearly."""

from __future__ import annotations

import random
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from service.adapters.edge_index import EdgeIndex
from service.domain.errors import StoreUnavailable
from service.domain.models import VectorFilter, VectorPoint, VectorQuery
from service.domain.sparse import SparseVector


def test_points_survive_close_and_reopen(tmp_path: Path) -> None:
    index = EdgeIndex(tmp_path / "e", 4)
    index.ensure_collection()
    index.upsert(
        [VectorPoint("6f1d2a8e-4c1b-4f0e-9a7d-3b5c2e1f0a9d", [1, 0, 0, 0], {"tenant": "a"})]
    )
    index.close()
    again = EdgeIndex(tmp_path / "e", 4)
    assert again.count(VectorFilter(must={"tenant": "a"})) == 1
    again.close()
    with pytest.raises(StoreUnavailable):
        again.count(VectorFilter())


def test_second_process_is_refused_while_open(tmp_path: Path) -> None:
    index = EdgeIndex(tmp_path / "e", 4)
    code = (
        "from pathlib import Path\n"
        "from service.adapters.edge_index import EdgeIndex, ShardLocked\n"
        f"try:\n    EdgeIndex(Path({str(tmp_path / 'e')!r}), 4)\n"
        "except ShardLocked as exc:\n    print('locked:', exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("locked:"), out.stdout + out.stderr
    index.close()


def test_search_pool_size_changes_no_hit(tmp_path: Path) -> None:
    """`edge_search_threads`: searches on the calling thread (1) or on Edge's pool (0) find the
    same hits in the same order; a shard reopened without knowing its dimension (`cmem
    optimize`) keeps its vectors."""
    rng = random.Random(7)
    points = [
        VectorPoint(
            str(uuid.UUID(int=rng.getrandbits(128))),
            [rng.uniform(-1, 1) for _ in range(8)],
            {"tenant": "a", "scope": f"s{i % 3}"},
            SparseVector((i % 5, 7 + i % 11), (1.0 + i / 1000, 0.5)),  # no two scores alike
        )
        for i in range(300)
    ]
    queries = [
        VectorQuery([rng.uniform(-1, 1) for _ in range(8)], VectorFilter(must={"scope": s}), 40)
        for s in ("s0", "s1", "s2")
    ]
    queries += [  # sparse alone (Edge's fusion of both orders tied ranks arbitrarily)
        VectorQuery((), q.where, 10, SparseVector((1, 8), (1.0, 1.0)), with_payload=False)
        for q in queries
    ]
    first = EdgeIndex(tmp_path / "e", 8, search_threads=0)
    first.ensure_collection()
    first.upsert(points)
    pooled = first.query_batch(queries)
    first.close()
    found = []
    for threads, dimension in ((1, 8), (1, 0), (0, 0)):
        again = EdgeIndex(tmp_path / "e", dimension, search_threads=threads)
        found.append(again.query_batch(queries))
        again.close()
    assert [len(hits) for hits in pooled] == [40, 40, 40, 10, 10, 10]
    assert all(result == pooled for result in found)
