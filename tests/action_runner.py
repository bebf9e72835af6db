"""Runs the Action the way the GitHub runner does: INPUT_* variables, file commands, a workspace."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def read_github_output(text: str) -> dict[str, str]:
    """Parse the runner's `name<<DELIMITER` / value / `DELIMITER` file format strictly."""
    values: dict[str, str] = {}
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line:
            continue
        name, marker, delimiter = line.partition("<<")
        assert marker, f"not in name<<delimiter form: {line!r}"
        body: list[str] = []
        while lines[index] != delimiter:
            body.append(lines[index])
            index += 1
        index += 1
        values[name] = "\n".join(body)
    return values


@dataclass
class ActionRun:
    code: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    summary: str
    seconds: float


def action_env(workspace: Path, files: Path, inputs: dict[str, str]) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("INPUT_", "GITHUB_"))}
    env.update({
        "GITHUB_ACTIONS": "true", "CI": "true", "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_OUTPUT": str(files / "output"), "GITHUB_STEP_SUMMARY": str(files / "summary"),
        "PYTHONPATH": str(ROOT / "src"),
    })
    for name, value in inputs.items():
        env["INPUT_" + name.replace(" ", "_").upper()] = value
    return env


def start_action(workspace: Path, files: Path, **inputs: str) -> subprocess.Popen[str]:
    files.mkdir(parents=True, exist_ok=True)
    (files / "output").write_text("")
    (files / "summary").write_text("")
    return subprocess.Popen([sys.executable, str(ROOT / "entrypoint.py")], cwd=workspace,
                            env=action_env(workspace, files, inputs), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen[str], files: Path, started: float, timeout: float = 180) -> ActionRun:
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
        raise AssertionError(f"the action hung past {timeout} s\n{stdout}\n{stderr}") from None
    return ActionRun(process.returncode, stdout, stderr, read_github_output((files / "output").read_text()),
                     (files / "summary").read_text(), time.monotonic() - started)


def run_action(workspace: Path, files: Path, wait: float = 180, **inputs: str) -> ActionRun:
    started = time.monotonic()
    return finish(start_action(workspace, files, **inputs), files, started, wait)


def interrupt(process: subprocess.Popen[str], sig: signal.Signals = signal.SIGTERM) -> None:
    process.send_signal(sig)
