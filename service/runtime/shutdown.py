"""A deadline for shutdown: past it, the process says so, runs its last words and exits."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

import structlog

log = structlog.get_logger()


class ShutdownDeadline:
    """Armed when shutdown starts; if the process is still there `seconds` later, it logs,
    calls `last_words` (e.g. stop the Valkey child so it fsyncs) and exits with code 1."""

    def __init__(self, seconds: float, last_words: Callable[[], None]) -> None:
        self.seconds = seconds
        self._last_words = last_words
        self._armed = threading.Event()

    def arm(self) -> None:
        if self._armed.is_set():
            return
        self._armed.set()
        threading.Thread(target=self._expire, name="shutdown-deadline", daemon=True).start()

    def _expire(self) -> None:
        threading.Event().wait(self.seconds)
        log.error("runtime.shutdown_timeout", seconds=self.seconds)
        try:
            self._last_words()
        finally:
            os._exit(1)
