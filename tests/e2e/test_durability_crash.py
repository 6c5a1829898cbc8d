"""Strict durability: SIGKILL the whole service group during acknowledged appends, restart,
count what was lost. Strict must lose nothing (bench/durability.py measures default too)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.crash import crash_rounds

pytestmark = pytest.mark.slow

ROUNDS = 5


def test_strict_loses_no_acknowledged_append_across_group_kills(tmp_path: Path) -> None:
    env = {"CMEM_EMBEDDING_MODEL_PATH": "hashing", "CMEM_DURABILITY": "strict"}
    result = crash_rounds(tmp_path, env, ROUNDS)
    assert result.acked > ROUNDS * 20, f"too few writes to mean anything: {result.acked}"
    assert not result.lost, f"{len(result.lost)} of {result.acked} acknowledged appends lost"
