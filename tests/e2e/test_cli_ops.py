"""`cmem status|sessions|facts|snapshot|invalidate|keys` against a served instance."""

from __future__ import annotations

import io
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.served import CMEM, Served, wait_pending_zero
from service.cli import build_parser
from service.ops_client import run

pytestmark = pytest.mark.slow

HASHING = {"CMEM_EMBEDDING_MODEL_PATH": "hashing"}


def create_key(data_dir: Path, tenant: str, role: str) -> str:
    out = subprocess.run(
        [CMEM, "keys", "create", "--tenant", tenant, "--role", role, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


class Instance:
    def __init__(self, served: Served, admin: str, other_admin: str, client: str) -> None:
        self.served = served
        self.admin = admin
        self.other_admin = other_admin
        self.client = client
        self.snapshot_id = ""

    def http(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.served.url, headers={"Authorization": f"Bearer {self.admin}"}, timeout=30
        )

    def cmem(self, *args: str, key: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [CMEM, *args, "--url", self.served.url, "--key", key or self.admin],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def json(self, *args: str) -> Any:
        out = self.cmem(*args, "--json")
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    data_dir = tmp_path_factory.mktemp("served")
    keys = [
        create_key(data_dir, "acme", "admin"),
        create_key(data_dir, "acme", "admin"),
        create_key(data_dir, "acme", "client"),
    ]
    served = Served(data_dir, env=HASHING)
    served.wait_ready()
    inst = Instance(served, *keys)
    with inst.http() as http:
        for n, sid in enumerate(("chat-a", "chat-b", "chat-c")):
            turns = [
                {
                    "role": "user" if i % 2 == 0 else "assistant",
                    "content": f"{sid} turn {i} about pears",
                }
                for i in range(3 + 2 * n)
            ]
            r = http.post(
                f"/v1/sessions/{sid}/messages", json={"user_id": "ana", "messages": turns}
            )
            assert r.status_code == 201, r.text
            wait_pending_zero(http, sid)
        http.post("/v1/facts", json={"user_id": "ana", "text": "Ana likes pears", "key": "fruit"})
        http.post("/v1/facts", json={"user_id": "ana", "text": "Ana likes figs", "key": "fruit"})
        ctx = http.post(
            "/v1/context",
            json={"session_id": "chat-c", "user_id": "ana", "budget_tokens": 300, "query": "pears"},
        )
        inst.snapshot_id = ctx.json()["snapshot_id"]
    yield inst
    served.stop()


def test_status_shows_readiness_queues_and_staleness(instance: Instance) -> None:
    out = instance.cmem("status")
    assert out.returncode == 0, out.stderr
    assert "ready: yes" in out.stdout
    assert "redis\tok" in out.stdout
    assert "cmem\t" in out.stdout  # the queue
    assert "oldest pending indexing\t" in out.stdout
    assert "stale chunks awaiting the sweep\t0" in out.stdout
    assert (
        "sessions: 3 (active 5m: 3, 1h: 3, 24h: 3); users: 1; facts: 1; documents: 0" in out.stdout
    )
    body = instance.json("status")
    assert body["ready"] is True
    assert body["sessions"] == 3
    assert body["usage"]["active_sessions"]["5m"] == 3


def test_sessions_ls_and_show(instance: Instance) -> None:
    out = instance.cmem("sessions", "ls")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "# sessions 1-3 of 3"
    assert lines[1].split("\t")[:3] == ["session", "user", "messages"]
    # Latest turn first: chat-c was written last.
    assert [row.split("\t")[0] for row in lines[2:]] == ["chat-c", "chat-b", "chat-a"]
    assert lines[2].split("\t")[1:3] == ["ana", "7"]
    page = instance.json("sessions", "ls", "--limit", "2", "--offset", "1")
    assert [s["session_id"] for s in page["sessions"]] == ["chat-b", "chat-a"]
    assert page["total"] == 3

    show = instance.cmem("sessions", "show", "chat-b", "--turns", "2")
    assert show.returncode == 0, show.stderr
    assert "messages\t5" in show.stdout
    assert "# latest 2 of 5 turns" in show.stdout
    assert "chat-b turn 4 about pears" in show.stdout
    assert "chat-b turn 2 about pears" not in show.stdout
    body = instance.json("sessions", "show", "chat-b")
    assert body["session"]["indexed"] == 5


def test_facts_ls_shows_current_and_superseded(instance: Instance) -> None:
    out = instance.cmem("facts", "ls", "--user", "ana")
    assert out.returncode == 0, out.stderr
    rows = [line.split("\t") for line in out.stdout.splitlines()[2:]]
    by_text = {row[-1]: row for row in rows}
    assert by_text["Ana likes figs"][2] == "active"
    assert by_text["Ana likes pears"][2] == "superseded"
    assert {f["text"] for f in instance.json("facts", "ls", "--user", "ana")["facts"]} == {
        "Ana likes pears",
        "Ana likes figs",
    }


def test_snapshot_show_draws_the_composition(instance: Instance) -> None:
    out = instance.cmem("snapshot", "show", instance.snapshot_id)
    assert out.returncode == 0, out.stderr
    body = instance.json("snapshot", "show", instance.snapshot_id)
    by_component = body["usage"]["by_component"]
    assert f"{body['usage']['total']} of 300 tokens" in out.stdout
    for component, tokens in by_component.items():
        row = next(line for line in out.stdout.splitlines() if line.startswith(component + "\t"))
        _, shown, _, bar = row.split("\t")
        assert int(shown) == tokens
        assert bar.count("█") == round(40 * tokens / 300)
    assert "# included" in out.stdout
    assert all(item["id"] in out.stdout for item in body["items"])


def test_snapshot_show_on_a_terminal_draws_rich_tables(instance: Instance) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    args = build_parser().parse_args(
        [
            "snapshot",
            "show",
            instance.snapshot_id,
            "--url",
            instance.served.url,
            "--key",
            instance.admin,
        ]
    )
    run(args, screen)
    text = screen.getvalue()
    assert "tokens per component" in text
    assert "┃" in text or "│" in text  # a rich table, not tab-separated lines
    assert "\t" not in text


def test_invalidate_a_session_and_errors_are_readable(instance: Instance) -> None:
    out = instance.cmem("invalidate", "--session", "chat-a", "--action", "drop")
    assert out.returncode == 0, out.stderr
    assert "sessions: 1" in out.stdout
    assert "cleanup job" in out.stdout
    body = instance.json("invalidate", "--user", "ana", "--action", "reembed")
    assert body["affected"]["users"] == 1
    nothing = instance.cmem("invalidate")
    assert nothing.returncode == 2
    assert "scope selects nothing" in nothing.stderr
    denied = instance.cmem("status", key=instance.client)
    assert denied.returncode == 2
    assert "HTTP 403" in denied.stderr
    with instance.http() as http:
        audit = http.get("/v1/admin/audit").json()["entries"]
    assert any(e.get("scope", {}).get("session_id") == "chat-a" for e in audit)


def test_keys_ls_and_revoke(instance: Instance) -> None:
    listed = instance.json("keys", "ls")["keys"]
    assert len(listed) == 3
    assert {k["role"] for k in listed} == {"admin", "client"}
    assert all(instance.admin not in json.dumps(k) for k in listed)
    mine = instance.admin[:9]
    other = instance.other_admin[:9]
    refused = instance.cmem("keys", "revoke", mine)
    assert refused.returncode == 2
    assert "the key making the call" in refused.stderr
    out = instance.cmem("keys", "revoke", other)
    assert out.returncode == 0, out.stderr
    assert f"revoked {other}" in out.stdout
    gone = instance.cmem("status", key=instance.other_admin)
    assert gone.returncode == 2
    assert "HTTP 401" in gone.stderr
    plain = instance.cmem("keys", "ls")
    assert other not in plain.stdout
    assert mine in plain.stdout
    missing = instance.cmem("keys", "revoke", "cmem_none")
    assert missing.returncode == 2
    assert "HTTP 404" in missing.stderr
