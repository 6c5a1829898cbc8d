"""The `cmem` command's fast paths (no runtime started)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from service.adapters.key_file import KeyFile

CMEM = str(Path(sys.executable).with_name("cmem"))


def cmem(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CMEM, *args], capture_output=True, text=True, timeout=120, env=env, check=False
    )


def test_keys_create_prints_the_key_once_and_stores_its_hash(tmp_path: Path) -> None:
    out = cmem(
        "keys", "create", "--tenant", "acme", "--role", "client", "--data-dir", str(tmp_path)
    )
    assert out.returncode == 0, out.stderr
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
    out = cmem(
        "keys", "create", "--tenant", "bad tenant", "--role", "admin", "--data-dir", str(tmp_path)
    )
    assert out.returncode == 2
    assert "tenant must be" in out.stderr


def test_production_entry_points_need_shared_stores(tmp_path: Path) -> None:
    for command in ("api", "worker"):
        out = cmem(command, env={"PATH": "/usr/bin:/bin", "CMEM_DATA_DIR": str(tmp_path)})
        assert out.returncode == 2, out.stderr
        assert "CMEM_REDIS_URL" in out.stderr


def test_optimize_builds_the_embedded_index_offline(tmp_path: Path) -> None:
    import random
    import uuid

    from service.adapters.edge_index import EdgeIndex
    from service.domain.models import VectorPoint

    rng = random.Random(0)
    index = EdgeIndex(tmp_path / "qdrant" / "memory", 8)
    index.ensure_collection()
    index.upsert(
        [
            VectorPoint(str(uuid.uuid4()), [rng.random() for _ in range(8)], {"tenant": "t"})
            for _ in range(50)
        ]
    )
    index.close()
    out = cmem("optimize", "--data-dir", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert str(tmp_path / "qdrant" / "memory") in out.stdout
    reopened = EdgeIndex(tmp_path / "qdrant" / "memory", 8)
    assert reopened.points() == 50
    reopened.close()
    missing = cmem("optimize", "--data-dir", str(tmp_path / "nothing"))
    assert missing.returncode == 2
    assert "no vector store" in missing.stderr
