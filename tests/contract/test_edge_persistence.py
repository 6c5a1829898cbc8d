"""Qdrant Edge specifics: data survives reopening; a second opener is refused clearly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from service.adapters.edge_index import EdgeIndex
from service.domain.errors import StoreUnavailable
from service.domain.models import VectorFilter, VectorPoint


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
