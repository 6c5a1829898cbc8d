"""Task names live in one table (`service.tasks`): the worker registers every one of them, and
nothing sends or registers a name spelled out anywhere else."""

from __future__ import annotations

import ast
from pathlib import Path

from service import tasks
from service.runtime.container import Container
from workers.app import create_worker_app

ROOT = Path(__file__).resolve().parents[2]


def test_the_worker_registers_exactly_the_table(container: Container, redis_url: str) -> None:
    app = create_worker_app(container.services, redis_url)
    ours = {name for name in app.tasks if not name.startswith("celery.")}
    assert set(tasks.ALL) <= ours, "in the table but no worker task: its messages would pile up"
    assert ours <= set(tasks.ALL), "a worker task missing from the table"


def test_every_name_in_the_module_is_in_the_table() -> None:
    constants = {v for k, v in vars(tasks).items() if k.isupper() and isinstance(v, str)}
    assert constants == set(tasks.ALL)
    assert len(tasks.ALL) == len(set(tasks.ALL)), "two constants for one name"


def test_no_task_name_is_spelled_out_where_jobs_are_sent_or_registered() -> None:
    """`enqueue("x.y", ...)`, `start_job(..., "x.y", ...)`, `send_task("x.y")` and
    `task(name="x.y")` would bypass the table."""
    literals = []
    for path in [*(ROOT / "service").rglob("*.py"), *(ROOT / "workers").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            args: list[ast.expr] = []
            if called in ("enqueue", "send_task") and node.args:
                args = [node.args[0]]
            elif called == "start_job" and len(node.args) > 2:
                args = [node.args[2]]
            elif called == "task":
                args = [k.value for k in node.keywords if k.arg == "name"]
            literals += [
                f"{path.relative_to(ROOT)}:{node.lineno}"
                for a in args
                if isinstance(a, ast.Constant) and isinstance(a.value, str)
            ]
    assert literals == []
