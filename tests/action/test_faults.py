"""The fault matrix: each case ends in success with nothing lost, or one clear error, exit 1 and
written outputs; never a hang past `timeout`, never exit 0 on failure."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from action_projects import make_prebuilt, make_source
from action_runner import finish, start_action
from workflow_commands import parse

SLOW_BUILD = """const fs = require('fs');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
(async () => {
  for (let i = 0; i < 30; i++) { console.log('line ' + i); await sleep(60); }
  fs.mkdirSync('dist', { recursive: true });
  fs.writeFileSync('dist/_worker.js', 'export default { fetch() { return new Response("ok"); } };');
  console.log('built');
})();
"""
STATUS_PATH = r"/edge-ssr/deployments/[0-9a-f-]{36}$"
ENVELOPE_500 = json.dumps({"error": {"code": "INTERNAL_ERROR", "message": "An internal error occurred",
                                     "remediation": "retry"}})


def _errors(run) -> list[str]:
    return [c.data for c in parse(run.stdout) if c.name == "error"]


def _count(emulator, method: str, pattern: str) -> int:
    return sum(1 for r in emulator.requests_log() if r["method"] == method and re.search(pattern, r["path"]))


def _newest_deployment(server, wanted: tuple[str, ...], within: float = 20) -> str:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        request = urllib.request.Request(f"{server.url}/v1/app_demo/edge-ssr/deployments",
                                         headers={"Authorization": f"Bearer {server.api_key}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            rows = json.loads(response.read())["deployments"]
        if rows and rows[0]["status"] in wanted:
            return rows[0]["id"]
        time.sleep(0.1)
    raise AssertionError(f"no deployment reached {wanted}")


def test_5xx_burst_on_status_is_survived(act, emulator, workspace: Path) -> None:
    make_prebuilt(workspace)
    emulator.add_fault(method="GET", path=STATUS_PATH, status=503, body=ENVELOPE_500,
                       content_type="application/json", times=3)
    run = act(flow="prebuilt")
    assert run.code == 0 and run.outputs["status"] == "READY", run.stdout


def test_429_with_retry_after_on_create_is_waited_out(act, emulator, workspace: Path) -> None:
    make_prebuilt(workspace)
    body = json.dumps({"error": {"code": "REQUEST_ERROR", "message": "Rate limit exceeded, retry in 1 second",
                                 "remediation": "wait"}})
    emulator.add_fault(method="POST", path=r"/edge-ssr/deployments$", status=429, body=body,
                       content_type="application/json", headers={"Retry-After": "1"}, times=2)
    run = act(flow="prebuilt")
    assert run.code == 0 and run.outputs["status"] == "READY", run.stdout
    assert _count(emulator, "POST", r"/edge-ssr/deployments$") == 3
    assert run.seconds >= 2


def test_500_on_create_is_not_blindly_repeated(act, emulator, workspace: Path) -> None:
    make_prebuilt(workspace)
    emulator.add_fault(method="POST", path=r"/edge-ssr/deployments$", status=500, body=ENVELOPE_500,
                       content_type="application/json", times=0)
    run = act(flow="prebuilt")
    assert run.code == 1 and run.outputs["status"] == "ERROR"
    assert _count(emulator, "POST", r"/edge-ssr/deployments$") == 1
    assert len(_errors(run)) == 1 and "HTTP 500" in _errors(run)[0]


@pytest.mark.parametrize(("body", "content_type", "fragment"), [
    ("<html><body>Bad gateway</body></html>", "text/html", "not JSON"),
    ("", "application/json", "not JSON"),
])
def test_html_or_empty_bodies_where_json_is_expected(act, emulator, workspace: Path, body: str,
                                                     content_type: str, fragment: str) -> None:
    make_prebuilt(workspace)
    emulator.add_fault(method="POST", path=r"/edge-ssr/deployments$", status=200, body=body,
                       content_type=content_type, times=1)
    run = act(flow="prebuilt")
    assert run.code == 1 and run.outputs["status"] == "ERROR"
    assert fragment in _errors(run)[0]


def test_odd_2xx_body_on_start_is_never_repeated(act, emulator, workspace: Path) -> None:
    make_prebuilt(workspace)
    emulator.add_fault(method="POST", path=r"/start$", status=200, body="<html>ok</html>", content_type="text/html",
                       times=1)
    run = act(flow="prebuilt", timeout="3")
    # The fault replaced the real start, so the row never leaves WAITING: the run times out cleanly.
    assert (run.code == 1 and run.outputs["status"] == "TIMEOUT") or run.outputs["status"] == "READY"


def test_connection_reset_during_upload_is_retried(act, emulator, workspace: Path) -> None:
    make_prebuilt(workspace)
    emulator.add_fault(server="storage", method="PUT", path=r".", action="drop", times=1)
    run = act(flow="prebuilt")
    assert run.code == 0 and run.outputs["status"] == "READY", run.stdout
    assert _count(emulator, "PUT", r".") == 2


def test_slow_upload_shows_progress_and_completes(act, emulator, workspace: Path) -> None:
    out = make_prebuilt(workspace)
    # Incompressible and larger than loopback socket buffers, so the sender really waits: about 6 s.
    (out / "random.bin").write_bytes(os.urandom(12_000_000))
    emulator.add_fault(server="storage", method="PUT", path=r".", action="throttle", throttle_bps=2_000_000, times=1)
    run = act(flow="prebuilt")
    assert run.code == 0 and run.outputs["status"] == "READY", run.stdout
    assert "% (" in run.stdout  # at least one progress line


def test_expired_upload_url_is_a_clear_error(emulator_factory, workspace: Path, tmp_path: Path) -> None:
    server = emulator_factory("--upload-ttl-prebuilt", "1")
    make_prebuilt(workspace)
    server.add_fault(server="storage", method="PUT", path=r".", delay=2.5, action="respond", status=None, times=1)
    from action_runner import run_action

    run = run_action(workspace, tmp_path / "f", api_url=server.url, api_key=server.api_key, app_id="app_demo",
                     flow="prebuilt", timeout="30")
    assert run.code == 1 and run.outputs["status"] == "ERROR"
    assert "HTTP 403" in _errors(run)[0] and "expired" in _errors(run)[0]
    assert run.outputs["deployment_id"]


def test_log_stream_refused_still_reports_from_status(act, emulator, workspace: Path) -> None:
    make_source(workspace)
    emulator.add_fault(method="GET", path=r"/logs$", status=500, body=ENVELOPE_500, content_type="application/json",
                       times=0)
    run = act(flow="source", build_command="npm run build", output_dir="dist")
    assert run.code == 0 and run.outputs["status"] == "READY", run.stdout
    assert "build log could not be read" in run.stdout


def test_log_stream_dropped_mid_build_loses_and_repeats_nothing(act, emulator, workspace: Path) -> None:
    make_source(workspace, build_js=SLOW_BUILD)
    emulator.add_fault(method="GET", path=r"/logs$", action="sse_drop", sse_drop_after=8, times=2)
    run = act(flow="source", build_command="npm run build", output_dir="dist")
    assert run.code == 0, run.stdout
    lines = [line for line in run.stdout.splitlines() if line.startswith("line ")]
    assert lines == [f"line {i}" for i in range(30)]
    assert _count(emulator, "GET", r"/logs$") >= 3


def test_log_stream_that_never_closes_does_not_hang(act, emulator, workspace: Path) -> None:
    make_source(workspace)
    emulator.add_fault(method="GET", path=r"/logs$", action="hang", times=0)
    run = act(flow="source", build_command="npm run build", output_dir="dist", wait=60)
    assert run.code == 0 and run.outputs["status"] == "READY"
    assert run.seconds < 40


def test_from_source_start_500_suggests_prebuilt(act, emulator, workspace: Path) -> None:
    make_source(workspace)
    emulator.add_fault(method="POST", path=r"/from-source/.*/start$", status=500, body=ENVELOPE_500,
                       content_type="application/json", times=1)
    run = act(flow="source", build_command="npm run build", output_dir="dist")
    assert run.code == 1 and run.outputs["status"] == "ERROR"
    assert "known Butterbase server issue" in _errors(run)[0] and "flow: prebuilt" in _errors(run)[0]
    assert run.outputs["deployment_id"]


@contextmanager
def _held_deploy(emulator, workspace: Path, files: Path) -> Iterator[tuple[subprocess.Popen[str], str, float]]:
    """A prebuilt deploy whose pipeline the emulator holds at BUILDING until the block ends."""
    emulator.reset()
    make_prebuilt(workspace)
    emulator.hold_pipeline(True)
    started = time.monotonic()
    process = start_action(workspace, files, api_url=emulator.url, api_key=emulator.api_key,
                           app_id="app_demo", flow="prebuilt", timeout="60")
    try:
        yield process, _newest_deployment(emulator, ("BUILDING",)), started
    finally:
        emulator.hold_pipeline(False)
        if process.poll() is None:
            process.kill()


@pytest.mark.parametrize("status", ["SUPERSEDED", "CANCELED"])
def test_superseded_or_canceled_by_someone_else(emulator, workspace: Path, tmp_path: Path, status: str) -> None:
    with _held_deploy(emulator, workspace, tmp_path / "f") as (process, deployment_id, started):
        emulator.set_status(deployment_id, status)
        run = finish(process, tmp_path / "f", started, 60)
    assert run.code == 1 and run.outputs["status"] == status
    assert run.outputs["deployment_id"] == deployment_id
    assert ("superseded" if status == "SUPERSEDED" else "cancelled") in _errors(run)[0]


def test_sigterm_cancels_the_remote_deployment_within_5_s(emulator, workspace: Path, tmp_path: Path) -> None:
    with _held_deploy(emulator, workspace, tmp_path / "f") as (process, deployment_id, started):
        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        run = finish(process, tmp_path / "f", started, 20)
        elapsed = time.monotonic() - signalled
    assert elapsed < 5
    assert run.code == 1 and run.outputs["status"] == "CANCELED"
    assert run.outputs["deployment_id"] == deployment_id
    assert emulator.admin_deployment(deployment_id)["status"] == "CANCELED"


def test_quirk_mode_failed_build_left_waiting_is_detected_from_the_log(emulator_factory, workspace: Path,
                                                                       tmp_path: Path) -> None:
    server = emulator_factory("--quirks")
    make_source(workspace, build_js="console.log('x'); process.exit(2);")
    from action_runner import run_action

    run = run_action(workspace, tmp_path / "f", api_url=server.url, api_key=server.api_key, app_id="app_demo",
                     flow="source", build_command="npm run build", output_dir="dist", timeout="90")
    assert run.code == 1 and run.outputs["status"] == "ERROR"
    assert "[runner] FAILED" in _errors(run)[0]
    assert run.seconds < 60
    assert server.admin_deployment(run.outputs["deployment_id"])["status"] == "WAITING"


def test_quirk_mode_replayed_log_is_shown_once_and_in_order(emulator_factory, workspace: Path,
                                                            tmp_path: Path) -> None:
    server = emulator_factory("--quirks")
    make_source(workspace, build_js=SLOW_BUILD)
    from action_runner import run_action

    run = run_action(workspace, tmp_path / "f", api_url=server.url, api_key=server.api_key, app_id="app_demo",
                     flow="source", build_command="npm run build", output_dir="dist", timeout="90")
    assert run.code == 0 and run.outputs["status"] == "READY", run.stdout
    lines = [line for line in run.stdout.splitlines() if line.startswith("line ")]
    assert lines == [f"line {i}" for i in range(30)]
