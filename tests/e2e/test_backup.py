"""`cmem backup` while serving, `cmem restore` into a new dir: every session, fact and document
comes back, and the restored service recalls from its vectors."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.served import CMEM, Served, wait_pending_zero

pytestmark = pytest.mark.slow

ENV = {"CMEM_EMBEDDING_MODEL_PATH": "hashing"}
SESSIONS = ("s1", "s2")
USERS = ("ana", "ben")


def _cmem(*args: str) -> str:
    done = subprocess.run(
        [CMEM, *args], capture_output=True, text=True, env={**os.environ, **ENV}, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _write(http: httpx.Client) -> None:
    for n, (session, user) in enumerate(zip(SESSIONS, USERS, strict=True)):
        turns = [
            {"id": f"{session}-{i}", "role": "user", "content": f"{user} talks about item {i}"}
            for i in range(30)
        ]
        assert (
            http.post(
                f"/v1/sessions/{session}/messages", json={"user_id": user, "messages": turns}
            ).status_code
            == 201
        )
        http.put(f"/v1/sessions/{session}/state", json={"state": {"step": n}})
        for text in (f"{user} likes green tea", f"{user} now drinks black coffee"):
            http.post("/v1/facts", json={"user_id": user, "text": text, "key": "drink"})
        wait_pending_zero(http, session)
    for d in range(3):
        r = http.put(
            f"/v1/documents/doc{d}", json={"text": f"Manual {d}: the valve opens at {d} bar."}
        )
        assert r.status_code == 200, r.text  # write_through: live on return


def _everything(http: httpx.Client) -> dict[str, Any]:
    state: dict[str, Any] = {}
    for session, user in zip(SESSIONS, USERS, strict=True):
        state[f"messages/{session}"] = http.get(f"/v1/sessions/{session}/messages").json()
        state[f"state/{session}"] = http.get(f"/v1/sessions/{session}/state").json()
        state[f"facts/{user}"] = http.get("/v1/facts", params={"user_id": user}).json()
        hits = http.post("/v1/facts/search", json={"user_id": user, "query": "coffee"}).json()
        state[f"search/{user}"] = [f["id"] for f in hits["facts"]]
    docs = http.get("/v1/documents").json()
    state["documents"] = docs
    for doc in docs["documents"]:
        state[f"doc/{doc['doc_id']}"] = http.get(f"/v1/documents/{doc['doc_id']}").json()
    ctx = {"session_id": "s1", "user_id": "ana", "query": "valve bar", "budget_tokens": 400}
    chunks = http.post("/v1/context", json=ctx).json()["items"]
    state["context_chunks"] = sorted(i["id"] for i in chunks if i["kind"] == "chunk")
    return state


def test_backup_while_serving_and_restore_into_a_new_dir(tmp_path: Path) -> None:
    source = Served(tmp_path / "src", env=ENV)
    source.wait_ready()
    try:
        with source.client() as http:
            _write(http)
            before = _everything(http)
            archive = tmp_path / "backup.tar.gz"
            assert "(live)" in _cmem(
                "backup", "--data-dir", str(tmp_path / "src"), "--to", str(archive)
            )
            assert http.get("/readyz").status_code == 200  # still serving
    finally:
        source.stop()
    assert before["context_chunks"]  # the comparison covers vectors, not only records
    _restored_equals(archive, tmp_path / "copy", before)


def _restored_equals(archive: Path, data_dir: Path, before: dict[str, Any]) -> None:
    _cmem("restore", "--from", str(archive), "--data-dir", str(data_dir))
    restored = Served(data_dir, env=ENV)
    restored.wait_ready()
    try:
        with restored.client() as http:
            assert _everything(http) == before
    finally:
        restored.stop()


def test_offline_backup_and_refusals(tmp_path: Path) -> None:
    served = Served(tmp_path / "src", env=ENV)
    served.wait_ready()
    with served.client() as http:
        _write(http)
        before = _everything(http)
    served.stop()
    archive = tmp_path / "b.tar.gz"
    assert "(offline)" in _cmem("backup", "--data-dir", str(tmp_path / "src"), "--to", str(archive))
    refused = subprocess.run(
        [CMEM, "restore", "--from", str(archive), "--data-dir", str(tmp_path / "src")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode == 2
    assert "not empty" in refused.stderr
    _restored_equals(archive, tmp_path / "copy", before)
