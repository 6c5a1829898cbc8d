"""End to end: `cmem serve` as a subprocess, the real model, restarts and crashes."""

from __future__ import annotations

import random
import signal
import subprocess
from pathlib import Path

import pytest

from harness.served import CMEM, Served, wait_pending_zero

pytestmark = pytest.mark.slow

TOPICS = [
    "I tried a new pasta recipe with {x} and it turned out {y}.",
    "The train to {x} was delayed again, so I was {y} for the meeting.",
    "Our team planning for {x} went {y}; we need another round.",
    "I watched a documentary about {x}; it was {y}.",
    "The weather in {x} this weekend looks {y}.",
    "My sister recommended a book on {x}, apparently it is {y}.",
    "We should review the budget for {x}, it seems {y}.",
]
XS = [
    "Lisbon",
    "basil",
    "quantum computing",
    "the Q3 roadmap",
    "volcanoes",
    "Kyoto",
    "jazz",
    "spreadsheets",
    "mushrooms",
    "the Alps",
    "birdwatching",
    "tax forms",
]
YS = ["great", "disappointing", "surprising", "fine", "chaotic", "lovely", "too long"]
ANSWER = "By the way, my locker combination at the Riverside gym is 31-7-22."


def _conversation(n: int) -> list[dict[str, str]]:
    rng = random.Random(7)
    turns = []
    for i in range(1, n + 1):
        if i == 3:
            content = ANSWER
        elif i % 2 == 0:
            content = rng.choice(
                [
                    "Got it.",
                    "Interesting, tell me more.",
                    "Noted, thanks.",
                    "That makes sense.",
                    "Sounds good to me.",
                ]
            )
        else:
            content = rng.choice(TOPICS).format(x=rng.choice(XS), y=rng.choice(YS))
        turns.append({"id": f"t{i}", "role": "user" if i % 2 else "assistant", "content": content})
    return turns


def test_recall_restart_and_durability(tmp_path: Path) -> None:
    served = Served(tmp_path)
    served.wait_ready()
    with served.client() as http:
        turns = _conversation(300)
        for start in range(0, 300, 50):
            r = http.post(
                "/v1/sessions/chat/messages",
                json={"user_id": "ana", "messages": turns[start : start + 50]},
            )
            assert r.status_code == 201, r.text
        http.post(
            "/v1/facts",
            json={"user_id": "ana", "text": "Ana trains at the Riverside gym", "key": "gym"},
        )
        session = wait_pending_zero(http, "chat")
        assert (session["messages"], session["indexed"]) == (300, 300)
        ask = {
            "session_id": "chat",
            "user_id": "ana",
            "budget_tokens": 1024,
            "query": "What is my locker combination at the gym?",
        }
        ctx = http.post("/v1/context", json=ask).json()
        assert ctx["usage"]["total"] <= 1024
        assert "t3" in [i["id"] for i in ctx["items"]], ctx["items"]
        assert "31-7-22" in str(ctx["messages"])
        assert "t300" in [i["id"] for i in ctx["items"] if i["component"] == "history"]
    assert served.stop(signal.SIGTERM) == 0, served.text()
    out = served.text()
    assert '"event": "valkey.stopped"' in out
    assert '"event": "runtime.stopped"' in out

    again = Served(tmp_path)
    again.wait_ready()
    with again.client() as http:
        session = http.get("/v1/sessions/chat").json()
        assert (session["messages"], session["indexed"], session["pending"]) == (300, 300, 0)
        facts = http.get("/v1/facts?user_id=ana").json()["facts"]
        # (Facts extracted from the turns, such as the locker code, may be there too.)
        assert [f["text"] for f in facts if f["source"] == "api"] == [
            "Ana trains at the Riverside gym"
        ]
        ctx = http.post("/v1/context", json=ask).json()
        assert "31-7-22" in str(ctx["messages"])
    assert again.stop(signal.SIGINT) == 0, again.text()


def test_crash_leaves_a_stale_pid_that_the_next_start_handles(tmp_path: Path) -> None:
    served = Served(tmp_path)
    served.wait_ready()
    with served.client() as http:
        r = http.post(
            "/v1/sessions/s/messages",
            json={
                "user_id": "u",
                "messages": [{"id": "a", "role": "user", "content": "survives a crash"}],
            },
        )
        assert r.status_code == 201
        wait_pending_zero(http, "s")
    valkey = int((tmp_path / "valkey" / "valkey.pid").read_text())
    served.stop(signal.SIGKILL)  # no cleanup at all: the pid file stays
    assert (tmp_path / "cmem.pid").exists()

    again = Served(tmp_path)
    again.wait_ready()
    with again.client() as http:
        assert http.get("/v1/sessions/s").json()["messages"] == 1  # AOF (everysec) kept it
    out = again.text()
    assert "runtime.stale_pid_recovered" in out
    # Valkey died with its parent (PR_SET_PDEATHSIG), or was stopped as an orphan if it was
    # still flushing when the new run looked.
    assert "valkey.orphan_killed" not in out
    assert not _running(valkey) or "valkey.orphan_stopped" in out
    assert again.stop() == 0


def test_second_server_on_the_same_data_dir_is_refused(tmp_path: Path) -> None:
    served = Served(tmp_path)
    served.wait_listening()
    second = subprocess.run(
        [CMEM, "serve", "--port", "0", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert second.returncode == 2
    assert "in use by another cmem process" in second.stderr
    assert served.stop() == 0


def test_keyless_service_refuses_non_loopback(tmp_path: Path) -> None:
    result = subprocess.run(
        [CMEM, "serve", "--host", "0.0.0.0", "--port", "0", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "refusing to bind 0.0.0.0 with no API keys" in result.stderr


def _running(pid: int) -> bool:
    """A live process; a zombie (dead, not yet reaped by whoever adopted it) is not one."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
