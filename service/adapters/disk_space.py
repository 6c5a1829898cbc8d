"""Can a directory take writes? Free space and writability, checked before a write.

Qdrant Edge writes through memory-mapped files: on a full or unwritable disk it dies by SIGBUS
instead of raising, so writes must be refused before they reach it. Messages name no path:
they reach HTTP callers.
"""

from __future__ import annotations

import os
from pathlib import Path

from service.domain.errors import InsufficientStorage, StoreUnavailable


def _existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def free_bytes(path: Path) -> int:
    st = os.statvfs(_existing(path))
    return st.f_bavail * st.f_frsize


def check_writable(path: Path, min_free_bytes: int, store: str = "vector") -> None:
    """Raise InsufficientStorage below `min_free_bytes` free, StoreUnavailable when `path` (or
    its nearest existing parent) is read-only or not writable."""
    where = _existing(path)
    st = os.statvfs(where)
    if st.f_flag & os.ST_RDONLY or not os.access(where, os.W_OK):
        raise StoreUnavailable(store, f"the {store} store's directory is not writable")
    free = st.f_bavail * st.f_frsize
    if free < min_free_bytes:
        raise InsufficientStorage(
            f"the {store} store's disk has {free // 2**20} MiB free, below the "
            f"{min_free_bytes // 2**20} MiB minimum (min_free_disk_mb): writes are refused "
            f"until space is freed; reads go on",
            store=store,
            free_mb=free // 2**20,
        )
