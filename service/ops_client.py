"""`cmem status|sessions|facts|snapshot|invalidate|keys ls|keys revoke`: HTTP clients of the
running service for everyday operator work (embedded or production, the same way).

Tables and bars with `rich` on a terminal; plain tab-separated lines when stdout is not a TTY
(pipes, scripts); `--json` prints the service's JSON as it came.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

import httpx
from rich.console import Console
from rich.table import Table

DEFAULT_URL = "http://127.0.0.1:8080"
COMMANDS = ("status", "sessions", "facts", "snapshot", "invalidate")
KEY_COMMANDS = ("ls", "revoke")
BAR_WIDTH = 40


class CommandFailed(Exception):
    """The service could not be reached or refused the call (printed, exit code 2)."""


class Output:
    """Rich tables on a terminal, tab-separated lines elsewhere, raw JSON with --json."""

    def __init__(self, out: TextIO, as_json: bool) -> None:
        self.out = out
        self.as_json = as_json
        self.rich = out.isatty() and not as_json
        self.console = Console(file=out, highlight=False) if self.rich else None

    def json(self, body: Any) -> None:
        print(json.dumps(body, indent=2, default=str), file=self.out)

    def line(self, text: str) -> None:
        if self.console is not None:
            self.console.print(text, markup=False)
        else:
            print(text, file=self.out)

    def table(self, title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        if self.console is not None:
            table = Table(title=title)
            for column in columns:
                table.add_column(column)
            for row in rows:
                table.add_row(*(str(c) for c in row))
            self.console.print(table)
            return
        print(f"# {title}", file=self.out)
        print("\t".join(columns), file=self.out)
        for row in rows:
            print("\t".join(str(c) for c in row), file=self.out)

    def bars(self, title: str, parts: dict[str, int], total: int) -> None:
        """A horizontal bar per part, scaled to `total` (the composition of a context)."""
        rows = []
        for name, value in sorted(parts.items(), key=lambda kv: -kv[1]):
            filled = round(BAR_WIDTH * value / total) if total else 0
            share = value / total if total else 0.0
            rows.append((name, value, f"{share:6.1%}", "█" * filled + "·" * (BAR_WIDTH - filled)))
        self.table(title, ("component", "tokens", "share", "bar"), rows)


class Api:
    """The service's HTTP API, with its error bodies turned into CommandFailed."""

    def __init__(self, url: str, key: str) -> None:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.client = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=30)

    def call(self, method: str, path: str, ok: Sequence[int] = (200,), **kw: Any) -> Any:
        try:
            response = self.client.request(method, path, **kw)
        except httpx.HTTPError as exc:
            raise CommandFailed(f"cannot reach {self.client.base_url}: {exc}") from exc
        if response.status_code not in ok:
            raise CommandFailed(error_text(response))
        return response.json() if response.content else {}

    def close(self) -> None:
        self.client.close()


def error_text(response: httpx.Response) -> str:
    try:
        detail = response.json().get("error", {}).get("message") or response.text
    except ValueError:
        detail = response.text
    return f"HTTP {response.status_code}: {detail}"


def add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url",
        default=os.environ.get("CMEM_URL", DEFAULT_URL),
        help="the service (env CMEM_URL, default %(default)s)",
    )
    parser.add_argument("--key", default="", help="an admin API key (env CMEM_API_KEY)")
    parser.add_argument("--json", action="store_true", help="print the service's JSON")


def add_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    keys: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    add_common(sub.add_parser("status", help="readiness, queues and staleness of the service"))
    sessions = sub.add_parser("sessions", help="list or show sessions").add_subparsers(
        dest="sessions", required=True
    )
    ls = sessions.add_parser("ls", help="the tenant's sessions, latest turn first")
    ls.add_argument("--limit", type=int, default=50)
    ls.add_argument("--offset", type=int, default=0)
    add_common(ls)
    show = sessions.add_parser("show", help="a session: counts, summary, its latest turns")
    show.add_argument("session_id")
    show.add_argument("--turns", type=int, default=20, help="latest turns shown")
    add_common(show)
    facts = sub.add_parser("facts", help="facts of a user").add_subparsers(
        dest="facts", required=True
    )
    facts_ls = facts.add_parser("ls", help="a user's facts, every status")
    facts_ls.add_argument("--user", required=True)
    facts_ls.add_argument("--limit", type=int, default=100)
    add_common(facts_ls)
    snapshot = sub.add_parser("snapshot", help="assembled contexts").add_subparsers(
        dest="snapshot", required=True
    )
    snap_show = snapshot.add_parser("show", help="a context's composition, items and exclusions")
    snap_show.add_argument("snapshot_id")
    add_common(snap_show)
    inv = sub.add_parser("invalidate", help="stop serving a scope now; a job cleans up")
    inv.add_argument("--doc", action="append", dest="doc_ids", help="a document id (repeatable)")
    inv.add_argument("--tag", help="documents with this tag")
    inv.add_argument("--older-than", help="documents live before this ISO time")
    inv.add_argument("--model", dest="embedding_model", help="documents embedded by this model")
    inv.add_argument("--user", dest="user_id", help="a user's facts")
    inv.add_argument("--session", dest="session_id", help="a session's recalled turns")
    inv.add_argument("--all", action="store_true", help="every document")
    inv.add_argument("--caches", action="store_true", help="the embedding cache")
    inv.add_argument("--action", choices=("drop", "reembed"), default="drop")
    add_common(inv)
    keys_ls = keys.add_parser("ls", help="the tenant's API keys (ids, roles; never the keys)")
    add_common(keys_ls)
    revoke = keys.add_parser("revoke", help="revoke one of the tenant's keys by its id")
    revoke.add_argument("key_id")
    add_common(revoke)


def run(args: argparse.Namespace, out: TextIO = sys.stdout) -> None:
    """Run one operator command; raises CommandFailed."""
    api = Api(args.url, args.key or os.environ.get("CMEM_API_KEY", ""))
    show = Output(out, args.json)
    try:
        if args.command == "keys":
            HANDLERS[f"keys {args.keys}"](api, args, show)
        else:
            sub = getattr(args, args.command, None) if args.command != "invalidate" else None
            name = f"{args.command} {sub}" if isinstance(sub, str) else args.command
            HANDLERS[name](api, args, show)
    finally:
        api.close()


def status(api: Api, args: argparse.Namespace, show: Output) -> None:
    body = api.call("GET", "/v1/admin/status")
    if show.as_json:
        return show.json(body)
    usage = body["usage"]
    show.line(f"ready: {'yes' if body['ready'] else 'NO'}")
    show.table("checks", ("dependency", "state"), sorted(body["checks"].items()))
    show.table("queues", ("queue", "waiting"), sorted(body["queues"].items()))
    show.table(
        "staleness",
        ("what", "value"),
        [
            ("oldest pending indexing", f"{usage['oldest_pending_indexing_s']:.1f} s"),
            ("sessions awaiting indexing", usage["pending_indexing_sessions"]),
            ("write-behind lag", f"{usage['write_behind_lag_s']:.1f} s"),
            ("write-behind documents", usage["write_behind_documents"]),
            ("stale chunks awaiting the sweep", body["stale_chunks"]),
        ],
    )
    active = ", ".join(f"{w}: {n}" for w, n in usage["active_sessions"].items())
    show.line(
        f"sessions: {body['sessions']} (active {active}); users: {body['users']}; "
        f"facts: {body['facts']}; documents: {body['documents']}"
    )
    return None


def sessions_ls(api: Api, args: argparse.Namespace, show: Output) -> None:
    body = api.call(
        "GET", "/v1/admin/sessions", params={"offset": args.offset, "limit": args.limit}
    )
    if show.as_json:
        return show.json(body)
    rows = [
        (s["session_id"], s["user_id"], s["messages"], s["tokens"], s["pending"], s["last_active"])
        for s in body["sessions"]
    ]
    title = f"sessions {body['offset'] + 1}-{body['offset'] + len(rows)} of {body['total']}"
    show.table(title, ("session", "user", "messages", "tokens", "pending", "last turn"), rows)
    return None


def sessions_show(api: Api, args: argparse.Namespace, show: Output) -> None:
    session = api.call("GET", f"/v1/sessions/{args.session_id}")
    offset = max(0, session["messages"] - args.turns)
    page = api.call(
        "GET",
        f"/v1/sessions/{args.session_id}/messages",
        params={"offset": offset, "limit": max(1, args.turns)},
    )
    if show.as_json:
        return show.json({"session": session, "messages": page})
    fields = ("user_id", "messages", "tokens", "indexed", "pending", "trimmed", "fidelity")
    show.table(
        f"session {session['session_id']}", ("field", "value"), [(f, session[f]) for f in fields]
    )
    summary = session.get("summary")
    if summary:
        show.line(
            f"summary covers turns up to #{summary.get('last_seq')}: {summary.get('text', '')}"
        )
    rows = [(m["seq"], m["role"], m["tokens"], _clip(m["content"])) for m in page["messages"]]
    show.table(
        f"latest {len(rows)} of {page['total']} turns", ("seq", "role", "tokens", "content"), rows
    )
    return None


def facts_ls(api: Api, args: argparse.Namespace, show: Output) -> None:
    body = api.call("GET", "/v1/facts", params={"user_id": args.user, "limit": args.limit})
    if show.as_json:
        return show.json(body)
    rows = [
        (f["id"], f["key"] or "", f["status"], f["version"], f["valid_from"], _clip(f["text"]))
        for f in body["facts"]
    ]
    show.table(
        f"facts of {args.user}", ("id", "key", "status", "version", "valid from", "text"), rows
    )
    return None


def snapshot_show(api: Api, args: argparse.Namespace, show: Output) -> None:
    body = api.call("GET", f"/v1/snapshots/{args.snapshot_id}")
    if show.as_json:
        return show.json(body)
    request = body.get("request", {})
    usage = body["usage"]
    budget = int(request.get("budget_tokens") or usage["total"])
    show.line(
        f"snapshot {args.snapshot_id}: session {request.get('session_id')}, "
        f"{usage['total']} of {budget} tokens, at {body.get('created_at')}"
    )
    show.bars("tokens per component", usage["by_component"], max(budget, 1))
    included = [
        (i.get("kind"), i.get("id"), i.get("tokens"), _score(i.get("score"))) for i in body["items"]
    ]
    show.table("included", ("kind", "id", "tokens", "score"), included)
    excluded = [
        (x.get("kind"), x.get("id"), x.get("reason"), _score(x.get("score")))
        for x in body["excluded"]
    ]
    show.table("excluded", ("kind", "id", "reason", "score"), excluded)
    return None


def invalidate(api: Api, args: argparse.Namespace, show: Output) -> None:
    scope = {
        k: getattr(args, k)
        for k in ("doc_ids", "tag", "older_than", "embedding_model", "user_id", "session_id")
        if getattr(args, k)
    }
    scope |= {k: True for k in ("all", "caches") if getattr(args, k)}
    body = api.call("POST", "/v1/admin/invalidate", json={"scope": scope, "action": args.action})
    if show.as_json:
        return show.json(body)
    affected = ", ".join(f"{k}: {v}" for k, v in body["affected"].items())
    show.line(f"invalidated ({affected}); cleanup job {body['job_id']}")
    return None


def keys_ls(api: Api, args: argparse.Namespace, show: Output) -> None:
    body = api.call("GET", "/v1/admin/keys")
    if show.as_json:
        return show.json(body)
    rows = [(k["key_id"], k["tenant"], k["role"], k["created_at"] or "") for k in body["keys"]]
    show.table("API keys", ("id", "tenant", "role", "created"), rows)
    return None


def keys_revoke(api: Api, args: argparse.Namespace, show: Output) -> None:
    api.call("DELETE", f"/v1/admin/keys/{args.key_id}", ok=(204,))
    if show.as_json:
        return show.json({"revoked": args.key_id})
    show.line(f"revoked {args.key_id}")
    return None


def _clip(text: str, width: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _score(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, int | float) else ""


HANDLERS = {
    "status": status,
    "sessions ls": sessions_ls,
    "sessions show": sessions_show,
    "facts ls": facts_ls,
    "snapshot show": snapshot_show,
    "invalidate": invalidate,
    "keys ls": keys_ls,
    "keys revoke": keys_revoke,
}
