"""The `cmem` command's fast paths (no runtime started)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from service.adapters.key_file import KeyFile

CMEM = str(Path(sys.executable).with_name("cmem"))


def test_keys_create_prints_the_key_once_and_stores_its_hash(tmp_path: Path) -> None:
    out = subprocess.run(
        [
            CMEM,
            "keys",
            "create",
            "--tenant",
            "acme",
            "--role",
            "client",
            "--data-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    key = out.stdout.strip()
    assert key.startswith("cmem_")
    assert "not shown again" in out.stderr
    stored = (tmp_path / "api_keys.json").read_text()
    assert key not in stored
    assert json.loads(stored)["keys"][0]["tenant"] == "acme"
    principal = KeyFile(tmp_path / "api_keys.json").authenticate(key)
    assert principal is not None
    assert (principal.tenant, principal.is_admin) == ("acme", False)


def test_keys_create_rejects_a_bad_tenant(tmp_path: Path) -> None:
    out = subprocess.run(
        [
            CMEM,
            "keys",
            "create",
            "--tenant",
            "bad tenant",
            "--role",
            "admin",
            "--data-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "tenant must be" in out.stderr


def test_production_entry_points_need_shared_stores(tmp_path: Path) -> None:
    for command in ("api", "worker"):
        out = subprocess.run(
            [CMEM, command],
            capture_output=True,
            text=True,
            timeout=120,
            env={"PATH": "/usr/bin:/bin", "CMEM_DATA_DIR": str(tmp_path)},
        )
        assert out.returncode == 2, out.stderr
        assert "CMEM_REDIS_URL" in out.stderr
