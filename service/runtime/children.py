"""Child processes die with us: the kernel signals them when their parent thread exits."""

from __future__ import annotations

import ctypes
import os
import signal
from collections.abc import Callable

PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)  # resolved before any fork: nothing to load after it


def die_with_parent(sig: signal.Signals) -> Callable[[], None]:
    """A `preexec_fn` asking Linux to send `sig` to the child when the thread that started it
    ends (a SIGKILLed `cmem serve` leaves no orphan).

    The death signal follows the *thread* that forked: start children from threads that live
    as long as the child should (the main thread, or the watcher that restarts them).
    """
    parent = os.getpid()

    prctl = getattr(_libc, "prctl", None)  # Linux only; elsewhere children may outlive us

    def preexec() -> None:
        # Only async-signal-safe work here (we may fork from a threaded process): one syscall.
        if prctl is None:
            return
        prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec
