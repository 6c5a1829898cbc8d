"""The `cmem` command: serve (embedded), mcp (stdio), api and worker (production), keys,
reindex, and the operator's HTTP clients (status, sessions, facts, snapshot, invalidate, keys
ls|revoke)."""

from __future__ import annotations

import argparse
import faulthandler
import sys
from pathlib import Path
from typing import NoReturn

from pydantic import ValidationError

from service import ops_client
from service.logging import configure_logging
from service.runtime.lock import DataDirLocked
from service.settings import Settings


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {
        k: v
        for k, v in (
            ("host", getattr(args, "host", None)),
            ("port", getattr(args, "port", None)),
            ("data_dir", getattr(args, "data_dir", None)),
        )
        if v is not None
    }
    return Settings(**overrides)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cmem", description="coherent-memory service")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("serve", "embedded single-process service (Valkey, Qdrant Edge, worker)"),
        ("api", "the HTTP API against CMEM_REDIS_URL and CMEM_QDRANT_URL"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("--host", help="bind address (env CMEM_HOST)")
        p.add_argument("--port", type=int, help="port; 0 picks a free one (env CMEM_PORT)")
        p.add_argument("--data-dir", type=Path, help="data directory (env CMEM_DATA_DIR)")
    sub.add_parser("worker", help="a Celery worker against CMEM_REDIS_URL and CMEM_QDRANT_URL")
    mcp = sub.add_parser(
        "mcp", help="the embedded service over MCP on stdin/stdout (stop `cmem serve` first)"
    )
    mcp.add_argument("--data-dir", type=Path, help="data directory (env CMEM_DATA_DIR)")
    mcp.add_argument("--tenant", default="default", help="whose memory (default %(default)s)")
    optimize = sub.add_parser(
        "optimize",
        help="build the vector index of the embedded store (offline: stop `cmem serve` first)",
    )
    optimize.add_argument("--data-dir", type=Path, help="data directory (env CMEM_DATA_DIR)")
    reindex = sub.add_parser(
        "reindex",
        help="rebuild every document of the key's tenant for the current model and chunker",
    )
    reindex.add_argument(
        "--url", default="http://127.0.0.1:8080", help="the service (default %(default)s)"
    )
    reindex.add_argument("--key", default="", help="an admin API key (env CMEM_API_KEY)")
    reindex.add_argument(
        "--no-wait", action="store_true", help="print the job id and return at once"
    )
    backup = sub.add_parser(
        "backup", help="archive an embedded data dir (also while `cmem serve` runs on it)"
    )
    backup.add_argument("--data-dir", type=Path, help="data directory (env CMEM_DATA_DIR)")
    backup.add_argument("--to", type=Path, required=True, help="the archive to write (.tar.gz)")
    restore = sub.add_parser("restore", help="unpack a `cmem backup` archive into a new data dir")
    restore.add_argument("--from", dest="source", type=Path, required=True, help="the archive")
    restore.add_argument("--data-dir", type=Path, help="a new, empty data directory")
    keys = sub.add_parser("keys", help="manage API keys").add_subparsers(dest="keys", required=True)
    create = keys.add_parser("create", help="create a key; it is printed once")
    create.add_argument("--tenant", required=True)
    create.add_argument("--role", required=True, choices=("client", "admin"))
    create.add_argument("--data-dir", type=Path, help="data directory (env CMEM_DATA_DIR)")
    ops_client.add_commands(sub, keys)
    return parser


def main(argv: list[str] | None = None) -> None:
    # A fatal signal (SIGSEGV, SIGBUS, SIGABRT...) leaves every thread's traceback on stderr.
    faulthandler.enable()
    args = build_parser().parse_args(argv)
    if args.command == "reindex":
        _reindex(args)
        return
    if (
        args.command in ops_client.COMMANDS
        or getattr(args, "keys", None) in ops_client.KEY_COMMANDS
    ):
        try:
            ops_client.run(args)
        except ops_client.CommandFailed as exc:
            fail(str(exc))
        return

    try:
        settings = _settings(args)
    except ValidationError as exc:
        fail(f"invalid settings:\n{exc}")
    configure_logging(settings.log_format, settings.log_level)
    if args.command == "keys":
        from service.adapters.key_file import KeyFile
        from service.domain.errors import InvalidInput

        try:
            key = KeyFile(settings.keys_path).create(args.tenant, args.role)
        except InvalidInput as exc:
            fail(exc.message)
        print(key)
        print(
            f"stored hashed in {settings.keys_path}; this key is not shown again", file=sys.stderr
        )
        return
    if args.command in ("backup", "restore"):
        _backup_or_restore(args, settings)
        return
    # Imported here: `cmem keys` should not pay for the runtime's imports.
    from service.runtime import processes

    runners = {
        "optimize": processes.optimize_embedded,
        "serve": processes.run_embedded,
        "api": processes.run_api,
        "worker": processes.run_worker,
    }
    try:
        if args.command == "mcp":
            processes.run_mcp_stdio(settings, args.tenant)
            return
        runners[args.command](settings)
    except (processes.StartupError, DataDirLocked) as exc:
        fail(str(exc))


def _backup_or_restore(args: argparse.Namespace, settings: Settings) -> None:
    from service.runtime import backup

    try:
        if args.command == "backup":
            how = backup.backup(settings, args.to)
            print(f"backed up {settings.data_dir} to {args.to} ({how})")
        else:
            backup.restore(settings, args.source)
            print(f"restored {args.source} into {settings.data_dir}")
    except (backup.BackupFailed, OSError) as exc:
        fail(str(exc))


def _reindex(args: argparse.Namespace) -> None:
    import os

    from service.reindex_client import ReindexFailed, run

    try:
        result = run(args.url, args.key or os.environ.get("CMEM_API_KEY", ""), not args.no_wait)
    except ReindexFailed as exc:
        fail(str(exc))
    if not args.no_wait:
        counts = result.get("counts") or {}
        print(", ".join(f"{k}: {v}" for k, v in counts.items()))
    else:
        print(result["job_id"])


def fail(message: str) -> NoReturn:
    print(f"cmem: {message}", file=sys.stderr, flush=True)
    sys.exit(2)
