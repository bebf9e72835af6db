"""Measuring processes, and the pieces every benchmark shares: the emulator, the Action's environment,
the machine's description.

Every measured run is a fresh process. Its wall time comes from the parent's monotonic clock, its
peak RSS and CPU time from the kernel's rusage of that process, read by a small launcher (see ``run``).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
ENTRYPOINT = ROOT / "entrypoint.py"


class BenchError(RuntimeError):
    """A benchmark could not run (as opposed to running and missing its target)."""


@dataclass
class Sample:
    """One measured process."""

    wall: float  # seconds, spawn to reaped
    rss_mb: float  # peak resident set, MiB
    cpu: float  # user + system seconds
    code: int
    spawned_at: float  # time.time() just before the spawn
    exited_at: float  # time.time() just after the reap
    stdout: str = ""
    stderr: str = ""

    def brief(self) -> dict[str, float]:
        return {"wall_s": round(self.wall, 4), "rss_mb": round(self.rss_mb, 1), "cpu_s": round(self.cpu, 3)}


def _gnu_time() -> str | None:
    path = shutil.which("time") or ("/usr/bin/time" if os.path.exists("/usr/bin/time") else None)
    if path is None:
        return None
    try:
        probe = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10, check=False)
    except OSError:
        return None
    return path if "GNU" in probe.stdout + probe.stderr else None


# A child's peak RSS as the kernel reports it includes what the *parent* had mapped when it forked
# (the hiwater mark is carried over at exec). Forked straight from this Python process, even
# `zip` would show ~40 MiB. So each measured command is started by a small launcher, as
# /usr/bin/time -v does: GNU time when present, else a bare `python -S` (floor about 9 MiB).
GNU_TIME = _gnu_time()
_LAUNCHER = """
import os, sys
pid = os.posix_spawnp(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(f"{usage.ru_maxrss} {usage.ru_utime} {usage.ru_stime}\\n")
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
"""
RSS_METHOD = "GNU time (%M)" if GNU_TIME else "python -S launcher with os.wait4 (floor about 9 MiB)"


def run(cmd: Sequence[str | os.PathLike[str]], *, cwd: Path | None = None, env: dict[str, str] | None = None,
        timeout: float = 600, check: bool = True) -> Sample:
    """Run one process to its end and measure it (its whole process group is killed on timeout)."""
    args = [str(c) for c in cmd]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r", prefix="rusage-", suffix=".txt") as usage_file:
        if GNU_TIME:
            launched = [GNU_TIME, "-o", usage_file.name, "-f", "%M %U %S", *args]
        else:
            launched = [sys.executable, "-S", "-c", _LAUNCHER, usage_file.name, *args]
        spawned_at = time.time()
        started = time.perf_counter()
        proc = subprocess.Popen(launched, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                start_new_session=True)
        timer = threading.Timer(timeout, _kill_group, (proc.pid,))
        timer.start()
        try:
            proc.wait()
        finally:
            timer.cancel()
        wall = time.perf_counter() - started
        exited_at = time.time()
        _kill_group(proc.pid)  # anything it left behind
        lines = [line for line in usage_file.read().splitlines() if line.strip()]
        try:
            maxrss_kb, user, system = lines[-1].split()
            rss_mb, cpu = int(maxrss_kb) / 1024, float(user) + float(system)
        except (IndexError, ValueError):
            rss_mb, cpu = float("nan"), float("nan")
        out.seek(0)
        err.seek(0)
        sample = Sample(wall, rss_mb, cpu, proc.returncode, spawned_at, exited_at, _tail(out.read()),
                        _tail(err.read()))
    if check and sample.code != 0:
        raise BenchError(f"{' '.join(args)} exited {sample.code}\n{sample.stdout}\n{sample.stderr}")
    return sample


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _tail(data: bytes, limit: int = 4000) -> str:
    return data[-limit:].decode(errors="replace")


def alternate(reps: int, contenders: dict[str, Callable[[int], Sample]]) -> dict[str, list[Sample]]:
    """Run each contender ``reps`` times, interleaved (A B, B A, A B, ...) so drift hits both alike."""
    names = list(contenders)
    results: dict[str, list[Sample]] = {name: [] for name in names}
    for rep in range(reps):
        for name in names if rep % 2 == 0 else names[::-1]:
            results[name].append(contenders[name](rep))
    return results


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def summary(samples: Sequence[Sample]) -> dict[str, Any]:
    walls = [s.wall for s in samples]
    return {
        "runs": len(samples),
        "wall_median_s": round(median(walls), 4),
        "wall_min_s": round(min(walls), 4),
        "wall_max_s": round(max(walls), 4),
        "cpu_median_s": round(median([s.cpu for s in samples]), 3),
        "rss_max_mb": round(max(s.rss_mb for s in samples), 1),
        "rss_median_mb": round(median([s.rss_mb for s in samples]), 1),
    }


# -- the emulator -----------------------------------------------------------------------------------

def _harness() -> Any:
    """tests/emulator_harness.py (standard library only), loaded without putting tests/ on sys.path."""
    spec = importlib.util.spec_from_file_location("bench_emulator_harness", ROOT / "tests" / "emulator_harness.py")
    if spec is None or spec.loader is None:
        raise BenchError("tests/emulator_harness.py is missing")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def emulator(state_dir: Path, apps: Sequence[str] = ("app_bench",)) -> Iterator[Any]:
    """The emulator with --admin and --runtime off (we measure the client, not workerd's start)."""
    harness = _harness()
    emu = harness.Emulator(state_dir, "--runtime", "off", apps=tuple(apps))
    emu.start()
    try:
        yield emu
    finally:
        emu.stop()


def api(emu: Any, method: str, path: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{emu.url}{path}", data=data, method=method,
                                     headers={"Authorization": f"Bearer {emu.api_key}",
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


def create_deployment(emu: Any, app: str) -> tuple[str, str]:
    """A prebuilt deployment through the API: (id, presigned upload URL)."""
    body = api(emu, "POST", f"/v1/{app}/edge-ssr/deployments", {"framework": "nextjs-edge"})
    return str(body["id"]), str(body["uploadUrl"])


# -- the Action, as the runner runs it ------------------------------------------------------------

@dataclass
class ActionFiles:
    workspace: Path
    files: Path
    outputs: dict[str, str] = field(default_factory=dict)


def action_env(workspace: Path, files: Path, inputs: dict[str, str]) -> dict[str, str]:
    files.mkdir(parents=True, exist_ok=True)
    (files / "output").write_text("")
    (files / "summary").write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INPUT_", "GITHUB_", "BUTTERBASE_"))}
    env.update({"GITHUB_ACTIONS": "true", "CI": "true", "GITHUB_WORKSPACE": str(workspace),
                "GITHUB_OUTPUT": str(files / "output"), "GITHUB_STEP_SUMMARY": str(files / "summary"),
                "TMPDIR": str(files)})
    for name, value in inputs.items():
        env["INPUT_" + name.upper()] = value
    return env


def deploy_inputs(emu_url: str, api_key: str, app: str, output_dir: str, **extra: str) -> dict[str, str]:
    return {"api_key": api_key, "api_url": emu_url, "app_id": app, "flow": "prebuilt", "working_directory": ".",
            "output_dir": output_dir, "timeout": "300", **extra}


def run_action(workspace: Path, files: Path, inputs: dict[str, str], *, timeout: float = 600,
               check: bool = True) -> tuple[Sample, dict[str, str]]:
    env = action_env(workspace, files, inputs)
    sample = run([PYTHON, ENTRYPOINT], cwd=workspace, env=env, timeout=timeout, check=check)
    return sample, read_outputs((files / "output").read_text())


def read_outputs(text: str) -> dict[str, str]:
    """The runner's ``name<<DELIMITER`` file-command format."""
    values: dict[str, str] = {}
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        name, marker, delimiter = lines[index].partition("<<")
        index += 1
        if not marker:
            continue
        body = []
        while index < len(lines) and lines[index] != delimiter:
            body.append(lines[index])
            index += 1
        index += 1
        values[name] = "\n".join(body)
    return values


# -- the machine ------------------------------------------------------------------------------------

def _first_line(cmd: Sequence[str]) -> str:
    try:
        result = subprocess.run(list(cmd), capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "not found"
    lines = (result.stdout or result.stderr).strip().splitlines()
    return lines[0].strip() if lines else ""


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as handle:
        cpu = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), cpu)
    memory_gib = 0.0
    with contextlib.suppress(OSError), open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith("MemTotal:"):
                memory_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    os_name = platform.platform()
    with contextlib.suppress(OSError), open("/etc/os-release") as handle:
        os_name = next((line.split("=", 1)[1].strip().strip('"') for line in handle
                        if line.startswith("PRETTY_NAME=")), os_name)
    commit = _first_line(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = _first_line(["git", "-C", str(ROOT), "status", "--porcelain", "--", "src", "bench", "entrypoint.py"])
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 0
    return {
        "nproc": cores,
        "cpu_model": cpu,
        "memory_gib": memory_gib,
        "python": platform.python_version(),
        "python_executable": PYTHON,
        "os": os_name,
        "kernel": platform.release(),
        "zip": _zip_version(),
        "curl": _first_line(["curl", "--version"]),
        "sha256sum": _first_line(["sha256sum", "--version"]),
        "rss_method": RSS_METHOD,
        "git_commit": commit + (" (with local changes)" if dirty else ""),
    }


def _zip_version() -> str:
    try:
        text = subprocess.run(["zip", "-v"], capture_output=True, text=True, timeout=10, check=False).stdout
    except OSError:
        return "not found"
    return next((line.strip().rstrip(".") for line in text.splitlines() if line.startswith("This is Zip")), "zip")


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []
