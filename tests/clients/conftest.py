"""A served `cmem serve` (subprocess, real model) with one client key, shared by the module."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.served import CMEM, Served


@pytest.fixture(scope="module")
def served_with_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, str]]:
    data = tmp_path_factory.mktemp("served")
    key = subprocess.run(
        [CMEM, "keys", "create", "--tenant", "acme", "--role", "client", "--data-dir", str(data)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    served = Served(Path(data))
    served.wait_ready()
    yield served, key
    served.stop()
