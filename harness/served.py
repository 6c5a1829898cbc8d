"""Drive `cmem serve` as a real subprocess (end-to-end tests and benchmarks)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

CMEM = str(Path(sys.executable).with_name("cmem"))
# Where a test session keeps the exported ONNX model, so each served data dir does not export
# it again (set by tests/conftest.py; unset, each data dir exports into its own models/).
SHARED_MODEL_DIR = "COHERENT_MEMORY_TEST_MODEL_DIR"


def _shared_models() -> dict[str, str]:
    shared = os.environ.get(SHARED_MODEL_DIR)
    return {"CMEM_MODEL_DIR": shared} if shared and "CMEM_MODEL_DIR" not in os.environ else {}


class Served:
    """A running `cmem serve`; its output is collected for assertions and for failures."""

    def __init__(
        self,
        data_dir: Path,
        *extra: str,
        env: dict[str, str] | None = None,
        own_group: bool = False,
    ) -> None:
        """`own_group`: a process group of its own (with its Valkey child), for `kill_group`."""
        self.output: list[str] = []
        # Our own `cmem`, next to this interpreter, with fixed arguments and no shell.
        self.proc = subprocess.Popen(  # noqa: S603
            [CMEM, "serve", "--port", "0", "--data-dir", str(data_dir), *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "CMEM_LOG_FORMAT": "json", **_shared_models(), **(env or {})},
            start_new_session=own_group,
        )
        self.url = ""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)

    def wait_listening(self, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.output):
                match = re.match(r"listening on (http://[0-9.]+:\d+)", line)
                if match:
                    self.url = match.group(1)
                    return self.url
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError("cmem serve did not start:\n" + "".join(self.output))

    def wait_ready(self, timeout: float = 60) -> float:
        """Seconds from now until /readyz answers 200."""
        started = time.monotonic()
        self.wait_listening(timeout)
        while time.monotonic() - started < timeout:
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return time.monotonic() - started
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise AssertionError("not ready:\n" + "".join(self.output))

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        self.proc.send_signal(sig)
        return self.wait(timeout)

    def wait(self, timeout: float = 60) -> int:
        """Wait for the process to exit; closes its output."""
        code = self.proc.wait(timeout)
        self._reader.join(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return code

    def kill_group(self) -> int:
        """SIGKILL the service and its children at once (a machine-level crash of the service)."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        return self.wait()

    def text(self) -> str:
        return "".join(self.output)


def wait_pending_zero(client: httpx.Client, session_id: str, timeout: float = 180) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/v1/sessions/{session_id}").json()
        if body["pending"] == 0:
            return body
        time.sleep(0.2)
    raise AssertionError(f"pending never reached 0: {body}")
