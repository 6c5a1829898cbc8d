"""The SDK is its own package: it declares and imports none of the server's dependencies."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

SDK = Path(__file__).parents[2] / "clients" / "python"
SERVER_ONLY = {
    "service",
    "workers",
    "fastapi",
    "redis",
    "celery",
    "torch",
    "qdrant_edge",
    "tiktoken",
}


def test_sdk_declares_only_client_dependencies() -> None:
    project = tomllib.loads((SDK / "pyproject.toml").read_text())["project"]
    names = {d.split(">")[0].split("=")[0].split("<")[0].strip() for d in project["dependencies"]}
    assert project["name"] == "coherent-memory-client"
    assert names == {"httpx", "pydantic", "typing-extensions"}


def test_sdk_imports_nothing_of_the_server() -> None:
    code = (
        "import json, sys, coherent_memory_client\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    # Run from the SDK's directory, so the server's checkout is not on the path by accident.
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=SDK, capture_output=True, text=True, check=True
    ).stdout
    loaded = set(json.loads(out))
    assert loaded & SERVER_ONLY == set()
    assert "coherent_memory_client" in loaded
