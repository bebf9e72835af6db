"""Serve a READY deployment's output in a real Workers runtime (Miniflare + workerd) on loopback.

The emulator hands over an extracted deployment output (`_worker.js` file or folder plus static
files) and gets back a process answering HTTP on 127.0.0.1:port. The Node side lives in
`runtime/serve.mjs`; Miniflare itself is installed outside the package by
`scripts/runtime-install.sh` (see docs/RUNTIME.md). Standard library only.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

ENV_RUNTIME = "BUTTERBASE_EMULATOR_RUNTIME"
SERVE_SCRIPT = Path(__file__).with_name("runtime") / "serve.mjs"
PROBE_HEADER = "x-butterbase-emulator-probe"
_INSTALL_HINT = (
    "install it with `make runtime` (scripts/runtime-install.sh [DIR]); "
    f"point {ENV_RUNTIME} at DIR when it is not <repo>/.runtime or ~/.cache/butterbase-emulator/runtime"
)


class RuntimeUnavailable(Exception):
    """Node or the Miniflare package is missing, so deployments cannot be served."""

    @classmethod
    def node_missing(cls) -> RuntimeUnavailable:
        return cls(f"node is not on PATH: install Node 20 or newer, then {_INSTALL_HINT}")

    @classmethod
    def miniflare_missing(cls) -> RuntimeUnavailable:
        where = os.environ.get(ENV_RUNTIME)
        looked = f"{ENV_RUNTIME}={where}" if where else ", ".join(str(p) for p in _candidate_dirs())
        return cls(f"the Workers runtime (npm package miniflare) was not found in {looked}: {_INSTALL_HINT}")


def _repo_runtime_dir() -> Path:
    # src/butterbase_emulator/runtime.py -> repo root, valid for an editable install or a checkout.
    return Path(__file__).resolve().parents[2] / ".runtime"


def _candidate_dirs() -> list[Path]:
    env = os.environ.get(ENV_RUNTIME)
    if env:
        return [Path(env).expanduser()]
    return [_repo_runtime_dir(), Path.home() / ".cache" / "butterbase-emulator" / "runtime"]


def runtime_dir() -> Path | None:
    """The folder whose node_modules holds miniflare, or None.

    BUTTERBASE_EMULATOR_RUNTIME wins outright when set (no fallback, so a wrong value is noticed);
    otherwise <repo>/.runtime, then ~/.cache/butterbase-emulator/runtime.
    """
    for candidate in _candidate_dirs():
        if (candidate / "node_modules" / "miniflare" / "package.json").is_file():
            return candidate.resolve()
    return None


def runtime_available() -> bool:
    return shutil.which("node") is not None and runtime_dir() is not None


def _tail(path: Path, max_lines: int = 40, max_chars: int = 4000) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-max_lines:])[-max_chars:]


class WorkerProcess:
    """One deployment served by `node serve.mjs` on 127.0.0.1:port, in its own process group.

    `vars` are the app's plain-text environment variables, bound on the worker like Butterbase's
    deploy binds them (`env.NAME`).
    """

    def __init__(self, site_dir: Path, port: int, log_path: Path, *, vars: dict[str, str] | None = None) -> None:
        self.site_dir = Path(site_dir)
        self.port = port
        self.log_path = Path(log_path)
        self.vars = dict(vars or {})
        self._proc: subprocess.Popen[bytes] | None = None
        self._vars_file: Path | None = None
        self._probe_token = secrets.token_hex(16)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self, timeout: float = 30.0) -> None:
        """Start serving and block until the runtime answers HTTP on 127.0.0.1:port.

        Raises RuntimeUnavailable when node or miniflare is missing, RuntimeError (with the tail of
        the log) when the worker cannot be loaded or does not answer within `timeout` seconds.
        """
        if self._proc is not None:
            raise RuntimeError("WorkerProcess already started")
        node = shutil.which("node")
        if node is None:
            raise RuntimeUnavailable.node_missing()
        rt = runtime_dir()
        if rt is None:
            raise RuntimeUnavailable.miniflare_missing()

        cmd = [
            node,
            str(SERVE_SCRIPT),
            "--site",
            str(self.site_dir.resolve()),
            "--port",
            str(self.port),
            "--runtime",
            str(rt),
            "--probe-token",
            self._probe_token,
        ]
        if self.vars:
            fd, name = tempfile.mkstemp(prefix="butterbase-vars-", suffix=".json")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(self.vars, f)
            self._vars_file = Path(name)
            cmd += ["--vars", name]

        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "NO_COLOR": "1",
            "FORCE_COLOR": "0",
            "WRANGLER_SEND_METRICS": "false",
            "CLOUDFLARE_CF_FETCH_ENABLED": "false",
        }
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )

        deadline = time.monotonic() + timeout
        while True:
            code = self._proc.poll()
            if code is not None:
                self.stop()
                raise RuntimeError(
                    f"worker runtime for {self.site_dir} exited with code {code} before serving; "
                    f"log {self.log_path}:\n{_tail(self.log_path)}"
                )
            if self._answers():
                return
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"worker runtime for {self.site_dir} did not answer on {self.url} "
                    f"within {timeout:.0f} s; "
                    f"log {self.log_path}:\n{_tail(self.log_path)}"
                )
            time.sleep(0.05)

    def _answers(self) -> bool:
        # The router worker in serve.mjs answers this probe itself, so the app's code never sees it.
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
        try:
            conn.request("GET", "/", headers={PROBE_HEADER: self._probe_token})
            return conn.getresponse().status == 204
        except OSError:
            return False
        finally:
            conn.close()

    def stop(self) -> None:
        """Stop node and every process of its group (workerd), and wait until the group is gone."""
        proc = self._proc
        if proc is None:
            return
        pgid = proc.pid  # start_new_session: the group id is the leader's pid
        if proc.poll() is None:
            # node alone first: it disposes Miniflare, which kills workerd and reaps it.
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _group_alive(pgid):
            time.sleep(0.05)
        self._proc = None
        if self._vars_file is not None:
            self._vars_file.unlink(missing_ok=True)
            self._vars_file = None

    def __enter__(self) -> WorkerProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
