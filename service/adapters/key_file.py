"""KeyFile: API keys stored hashed in a JSON file, checked in constant time."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from service.domain.errors import Conflict, StoreUnavailable
from service.domain.models import ApiKey, Principal
from service.domain.validation import check_id

ROLES = ("client", "admin")


def _digest(key: str) -> str:
    # Keys are 256-bit random tokens, so a plain SHA-256 is enough (no password stretching).
    return hashlib.sha256(key.encode()).hexdigest()


class KeyFile:
    """API key -> (tenant, role). Re-reads the file when it changes, so new keys apply live."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._mtime: float | None = None
        self._entries: list[dict[str, Any]] = []
        # Once keys have been seen, auth stays on: a key file that disappears or empties while
        # the service runs must not open it to everyone. Going keyless takes a restart.
        self._required = False

    def _load(self) -> list[dict[str, Any]]:
        with self._lock:
            try:
                mtime = self._path.stat().st_mtime
            except FileNotFoundError:
                if self._required:
                    raise StoreUnavailable(
                        "keys", "the API key file has gone; refusing every request"
                    ) from None
                self._mtime, self._entries = None, []
                return self._entries
            if mtime != self._mtime:
                try:
                    entries = json.loads(self._path.read_text())["keys"]
                    if not all({"sha256", "tenant", "role"} <= set(e) for e in entries):
                        raise ValueError("every key needs sha256, tenant and role")
                except (ValueError, KeyError, TypeError) as exc:
                    # Fail closed: no request is served with a key file we cannot read.
                    raise StoreUnavailable(
                        "keys", "the API key file is unreadable (see the service log)"
                    ) from exc
                if not entries and self._required:
                    raise StoreUnavailable(
                        "keys", "the API key file has no keys any more; refusing"
                    )
                self._entries = list(entries)
                self._mtime = mtime
                self._required = self._required or bool(entries)
            return self._entries

    def configured(self) -> bool:
        return bool(self._load())

    def authenticate(self, key: str) -> Principal | None:
        presented = _digest(key)
        found: dict[str, Any] | None = None
        # Compare against every entry, without early exit, so timing reveals nothing.
        for entry in self._load():
            if hmac.compare_digest(presented, entry["sha256"]):
                found = entry
        if found is None:
            return None
        roles = {"client", "admin"} if found["role"] == "admin" else {"client"}
        return Principal(
            tenant=found["tenant"], roles=frozenset(roles), key_id=str(found.get("prefix", "?"))
        )

    def create(self, tenant: str, role: str) -> str:
        """Store a new key and return it; this is the only time the plain key exists."""
        check_id(tenant, "tenant")
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        key = "cmem_" + secrets.token_urlsafe(32)
        entries = list(self._load())
        entries.append(
            {
                "sha256": _digest(key),
                "tenant": tenant,
                "role": role,
                "prefix": key[:9],
                "created_at": datetime.now(UTC).isoformat(),
            }
        )
        self._write(entries)
        return key

    def list_keys(self, tenant: str) -> list[ApiKey]:
        return [
            ApiKey(str(e.get("prefix", "?")), e["tenant"], e["role"], e.get("created_at"))
            for e in self._load()
            if e["tenant"] == tenant
        ]

    def revoke(self, tenant: str, key_id: str) -> bool:
        entries = list(self._load())
        doomed = [e for e in entries if e["tenant"] == tenant and e.get("prefix") == key_id]
        if not doomed:
            return False
        if len(doomed) > 1:
            raise Conflict(f"{len(doomed)} keys share the id {key_id!r}; revoke in the key file")
        self._write([e for e in entries if e is not doomed[0]])
        return True

    def _write(self, entries: list[dict[str, Any]]) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"keys": entries}, indent=2))
        os.chmod(tmp, 0o600)
        tmp.replace(self._path)
