"""Run the Butterbase emulator as a real subprocess for tests.

    with Emulator(tmp_path / "state") as emu:
        requests.post(f"{emu.url}/v1/{emu.apps[0]}/edge-ssr/deployments", json={},
                      headers={"Authorization": f"Bearer {emu.api_key}"})

The emulator runs in its own process group with ``--admin`` on, so the helpers below
can read its request log, inject faults and force deployment states. Standard library
only, so any test file can use it.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

DEV_API_KEY = "bb_sk_0123456789abcdef0123456789abcdef01234567"
DEFAULT_APPS = ("app_demo", "app_other")
READY_PREFIX = "Butterbase emulator listening on "
START_TIMEOUT = 20.0


class EmulatorError(RuntimeError):
    """The emulator did not start, or an admin call failed."""


class Emulator:
    def __init__(
        self,
        state_dir: Path,
        *extra_args: str,
        apps: tuple[str, ...] = DEFAULT_APPS,
        api_key: str = DEV_API_KEY,
        env: dict[str, str] | None = None,
        admin: bool = True,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.apps = tuple(apps)
        self.api_key = api_key
        self.extra_args = tuple(extra_args)
        self.env = env
        self.admin_enabled = admin
        self.url = ""
        self.stderr_path = self.state_dir.parent / f"{self.state_dir.name}.stderr.log"
        self._proc: subprocess.Popen[bytes] | None = None

    # --- lifecycle ---------------------------------------------------------------------

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "butterbase_emulator", "--port", "0",
               "--state-dir", str(self.state_dir), "--api-key", self.api_key]
        if self.admin_enabled:
            cmd.append("--admin")
        for app in self.apps:
            cmd += ["--app", app]
        return cmd + list(self.extra_args)

    def start(self) -> Emulator:
        if self._proc is not None:
            raise EmulatorError("already running")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        stderr = open(self.stderr_path, "ab")  # noqa: SIM115 - the child keeps it
        try:
            self._proc = subprocess.Popen(
                self.command(), stdout=subprocess.PIPE, stderr=stderr, stdin=subprocess.DEVNULL,
                start_new_session=True, env={**os.environ, **(self.env or {})},
            )
        finally:
            stderr.close()
        assert self._proc.stdout is not None
        line = self._read_line(self._proc.stdout, START_TIMEOUT)
        if not line.startswith(READY_PREFIX):
            self.stop()
            raise EmulatorError(f"emulator did not start (got {line!r}); stderr:\n{self.stderr_text()}")
        self.url = line[len(READY_PREFIX):].strip()
        return self

    @staticmethod
    def _read_line(stream: Any, timeout: float) -> str:
        sel = selectors.DefaultSelector()
        sel.register(stream, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        buf = b""
        fd = stream.fileno()
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                break
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            buf += chunk
        sel.close()
        return buf.split(b"\n", 1)[0].decode(errors="replace")

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM the process group, wait, then SIGKILL it. Returns the exit code."""
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            code = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            code = None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # anything the emulator left behind
        if code is None:
            code = proc.wait(5)
        if proc.stdout:
            proc.stdout.close()
        return code

    def restart(self) -> Emulator:
        self.stop()
        return self.start()

    def __enter__(self) -> Emulator:
        return self.start() if self._proc is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stderr_text(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # --- admin interface ----------------------------------------------------------------

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.url}/_admin/{path.lstrip('/')}", data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            raise EmulatorError(f"admin {method} {path}: {err.code} {err.read().decode(errors='replace')}") from None

    def requests_log(self) -> list[dict[str, Any]]:
        return list(self.admin("GET", "requests")["requests"])

    def add_fault(self, **spec: Any) -> int:
        return int(self.admin("POST", "faults", spec)["id"])

    def clear_faults(self) -> None:
        self.admin("DELETE", "faults")

    def reset(self) -> None:
        """Forget faults and the request log (deployments stay), and release the pipeline."""
        self.admin("POST", "reset", {})
        self.hold_pipeline(False)

    def set_status(self, deployment_id: str, status: str, error: str | None = None) -> dict[str, Any]:
        return dict(self.admin("POST", f"deployments/{deployment_id}/status", {"status": status, "error": error}))

    def admin_deployment(self, deployment_id: str) -> dict[str, Any]:
        return dict(self.admin("GET", f"deployments/{deployment_id}"))

    def site_url(self, app: str) -> str:
        """Where ``app``'s deployments are served (what READY rows report as ``url``)."""
        return next(a["site_url"] for a in self.admin("GET", "apps")["apps"] if a["app_id"] == app)

    def hold_pipeline(self, hold: bool, stage: str = "BUILDING") -> None:
        """Pause prebuilt pipelines when they reach ``stage`` (BUILDING, or UPLOADING) until released."""
        self.admin("POST", "pipeline", {"hold": hold, "stage": stage})


EmulatorFactory = Callable[..., Emulator]
"""The ``emulator_factory`` fixture: ``make(*extra_args, **Emulator kwargs) -> Emulator`` (started)."""
