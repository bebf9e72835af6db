"""The Action end to end against the emulator over real HTTP, run as the GitHub runner runs it."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

from action_projects import make_prebuilt, make_source
from action_runner import ROOT, action_env
from workflow_commands import parse


def _api_requests(emulator, server: str = "api") -> list[dict]:
    return [r for r in emulator.requests_log() if r["server"] == server]


def test_prebuilt_deploy_reaches_ready_and_sets_outputs(act, emulator, workspace: Path) -> None:
    make_prebuilt(workspace)
    run = act(flow="prebuilt")
    assert run.code == 0, run.stdout + run.stderr
    assert run.outputs["status"] == "READY"
    assert run.outputs["url"].startswith("http://127.0.0.1:")
    deployment_id = run.outputs["deployment_id"]
    assert emulator.admin_deployment(deployment_id)["status"] == "READY"
    with urllib.request.urlopen(run.outputs["url"] + "/hello.txt", timeout=10) as response:
        assert response.read() == b"hello static\n"
    assert "Ready: " + run.outputs["url"] in run.stdout
    assert "| URL | " + run.outputs["url"] in run.summary
    assert set(run.outputs) >= {"url", "deployment_id", "status", "build_id", "lockfile_hash", "deployments"}


def test_upload_is_streamed_with_a_length_and_without_the_key(act, emulator, workspace: Path) -> None:
    make_prebuilt(workspace)
    run = act(flow="prebuilt")
    assert run.code == 0, run.stdout
    puts = _api_requests(emulator, "storage")
    assert len(puts) == 1
    put = puts[0]
    assert put["method"] == "PUT" and put["chunked"] is False and put["body_size"] > 0
    assert put["headers"].get("content-type") == "application/zip"
    assert "authorization" not in put["headers"]
    assert all(r["auth"] == "valid" for r in _api_requests(emulator))
    assert "X-Amz-Signature" not in run.stdout and "Signature=" not in run.stdout


def test_auto_flow_picks_prebuilt_when_a_worker_exists_else_source(act, workspace: Path) -> None:
    make_source(workspace)
    make_prebuilt(workspace)
    run = act(flow="auto")
    assert run.code == 0 and "flow prebuilt" in run.stdout
    shutil.rmtree(workspace / ".vercel")
    run = act(flow="auto", build_command="npm run build", output_dir="dist")
    assert run.code == 0, run.stdout + run.stderr
    assert "flow source" in run.stdout and run.outputs["status"] == "READY"


def test_source_build_streams_its_log_once_in_order(act, workspace: Path) -> None:
    make_source(workspace)
    run = act(flow="source", build_command="npm run build", output_dir="dist", user_env="GREETING: hi-there")
    assert run.code == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    steps = [line for line in lines if line.startswith("step ")]
    assert steps == [f"step {i}" for i in range(5)]
    assert lines.index("step 0") < lines.index("done building")
    assert run.outputs["status"] == "READY"
    lock = hashlib.sha256((workspace / "package-lock.json").read_bytes()).hexdigest()
    assert run.outputs["lockfile_hash"] == lock
    assert run.outputs["build_id"]
    # user_env values are masked (and never printed), even when the build prints them
    shown = [line for line in lines if not line.startswith("::add-mask::")]  # the runner hides these
    assert not any("hi-there" in line for line in shown) and "building with GREETING=***" in shown
    assert "::add-mask::hi-there" in lines


def test_failed_build_is_an_error_with_the_log_tail(act, workspace: Path) -> None:
    make_source(workspace, build_js="console.log('compiling'); console.error('Type error: boom'); process.exit(3);")
    run = act(flow="source", build_command="npm run build", output_dir="dist")
    assert run.code == 1
    assert run.outputs["status"] == "ERROR"
    assert run.outputs["deployment_id"]
    errors = [c for c in parse(run.stdout) if c.name == "error"]
    assert len(errors) == 1 and "BUILD_NONZERO_EXIT" in errors[0].data
    assert "Type error: boom" in run.summary and "Fix:" in run.summary


def test_list_gives_a_table_and_json(act, workspace: Path) -> None:
    make_prebuilt(workspace)
    first = act(flow="prebuilt")
    second = act(flow="prebuilt")
    run = act(flow="list")
    assert run.code == 0
    rows = json.loads(run.outputs["deployments"])
    ids = [row["id"] for row in rows]
    assert ids.index(second.outputs["deployment_id"]) < ids.index(first.outputs["deployment_id"])
    assert rows[0]["status"] == "READY" and run.outputs["url"] == second.outputs["url"]
    assert any(line.startswith("CREATED") and "STATUS" in line for line in run.stdout.splitlines())
    assert "SUPERSEDED" in run.stdout


def test_attach_follows_an_existing_deployment(act, emulator, workspace: Path) -> None:
    make_prebuilt(workspace)
    first = act(flow="prebuilt")
    before = len(emulator.requests_log())
    run = act(deployment_id=first.outputs["deployment_id"])
    assert run.code == 0 and run.outputs["status"] == "READY"
    assert run.outputs["deployment_id"] == first.outputs["deployment_id"]
    attached = emulator.requests_log()[before:]
    assert attached and all(r["method"] == "GET" for r in attached)  # nothing created, uploaded or started


def test_timeout_reports_timeout_and_how_to_resume(act, emulator, workspace: Path) -> None:
    make_prebuilt(workspace)
    emulator.hold_pipeline(True)
    try:
        run = act(flow="prebuilt", timeout="3")
    finally:
        emulator.hold_pipeline(False)
    assert run.code == 1
    assert run.outputs["status"] == "TIMEOUT"
    deployment_id = run.outputs["deployment_id"]
    assert f"deployment_id: {deployment_id}" in run.stdout
    assert run.seconds < 30


def test_dry_run_sends_nothing(act, emulator, workspace: Path) -> None:
    make_prebuilt(workspace)
    run = act(flow="prebuilt", dry_run="true")
    assert run.code == 0 and run.outputs["status"] == "DRY_RUN"
    assert emulator.requests_log() == []


def test_fail_on_never_passes_the_step_but_reports_the_failure(act, workspace: Path) -> None:
    make_source(workspace, build_js="process.exit(4);")
    run = act(flow="source", build_command="npm run build", output_dir="dist", fail_on="never")
    assert run.code == 0
    assert run.outputs["status"] == "ERROR" and run.outputs["deployment_id"]
    assert [c.name for c in parse(run.stdout)].count("error") == 1
    assert "**Error:**" in run.summary


def test_fail_on_never_still_fails_on_bad_input(act, emulator, workspace: Path) -> None:
    make_prebuilt(workspace)
    run = act(flow="prebuilt", framework="vue", fail_on="never")
    assert run.code == 1 and run.outputs["status"] == "ERROR"


def test_missing_output_file_is_one_line_not_a_traceback(emulator, workspace: Path, tmp_path: Path) -> None:
    make_prebuilt(workspace)
    env = action_env(workspace, tmp_path / "absent", {"api_url": emulator.url, "api_key": emulator.api_key,
                                                      "app_id": "app_demo", "flow": "prebuilt", "dry_run": "true"})
    result = subprocess.run([sys.executable, str(ROOT / "entrypoint.py")], env=env, capture_output=True, text=True,
                            timeout=60)
    assert "Traceback" not in result.stdout + result.stderr
    assert "could not write the step outputs" in result.stdout
