"""Unusual but valid input simply works, end to end."""

from __future__ import annotations

import os
from pathlib import Path

from action_projects import make_prebuilt, make_source
from workflow_commands import parse


def _warnings(run) -> list[str]:
    return [c.data for c in parse(run.stdout) if c.name == "warning"]


def test_unicode_empty_zero_byte_and_executable_files_deploy(act, workspace: Path) -> None:
    out = make_prebuilt(workspace)
    (out / "données").mkdir()
    (out / "données" / "naïve ☃.txt").write_text("snow")
    (out / "empty-folder").mkdir()
    (out / "zero.txt").write_bytes(b"")
    tool = out / "tool.sh"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    run = act(flow="prebuilt")
    assert run.code == 0 and run.outputs["status"] == "READY", run.stdout
    assert "6 file(s)" in run.stdout  # index.js, hello.txt, _routes.json, naïve ☃.txt, zero.txt, tool.sh


def test_tens_of_thousands_of_files(act, workspace: Path) -> None:
    out = make_prebuilt(workspace)
    for index in range(20_000):
        folder = out / "assets" / str(index % 100)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{index}.txt").write_text(str(index))
    run = act(flow="prebuilt", wait=300)
    assert run.code == 0 and run.outputs["status"] == "READY", run.stdout[-2000:]
    assert "20003 file(s)" in run.stdout


def test_several_lockfiles_use_the_documented_precedence_with_a_warning(act, workspace: Path) -> None:
    make_source(workspace)
    (workspace / "yarn.lock").write_text("# yarn lockfile v1\n")
    run = act(flow="source", build_command="npm run build", output_dir="dist", package_manager="npm",
              dry_run="true")
    assert run.code == 0
    warnings = _warnings(run)
    assert any("used yarn.lock" in w and "package-lock.json" in w for w in warnings)
    assert "sha256 of yarn.lock" in run.stdout


def test_no_lockfile_hashes_package_json_with_a_warning(act, workspace: Path) -> None:
    make_source(workspace)
    os.remove(workspace / "package-lock.json")
    run = act(flow="source", build_command="npm run build", output_dir="dist")
    assert run.code == 0 and run.outputs["status"] == "READY", run.stdout
    assert any("no lockfile" in w for w in _warnings(run))
    assert "sha256 of package.json" in run.stdout
