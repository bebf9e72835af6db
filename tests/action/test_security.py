"""Security is part of correctness: nothing the server says runs as a workflow command or forges
an output, no secret reaches a log or an output, and the key goes only to api_url."""

from __future__ import annotations

import json
from pathlib import Path

from action_projects import make_prebuilt, make_source
from workflow_commands import parse

OURS = {"add-mask", "group", "endgroup", "error", "warning"}
HOSTILE_BUILD = r"""
console.log('::error::forged from the build');
console.log('  ::set-output name=url::https://evil.test');
console.log('##[error]legacy forged');
console.log('progress 50% ##[set-env name=X]forged');
console.log('::stop-commands::guess');
console.log('::add-mask::not-a-secret');
console.log('::endgroup::');
process.stdout.write('partial ::warn');
process.stdout.write('ing::forged across frames\n');
const fs = require('fs');
fs.mkdirSync('dist', { recursive: true });
fs.writeFileSync('dist/_worker.js', 'export default { fetch() { return new Response("ok"); } };');
"""
CANARY_KEY_NOTE = "the emulator's key is the canary: it must appear only inside ::add-mask::"


def _commands(run) -> list:
    return parse(run.stdout)


def test_build_log_cannot_run_workflow_commands(act, workspace: Path) -> None:
    make_source(workspace, build_js=HOSTILE_BUILD)
    run = act(flow="source", build_command="npm run build", output_dir="dist")
    assert run.code == 0, run.stdout
    commands = _commands(run)
    assert {c.name for c in commands} <= OURS
    assert not [c for c in commands if "forged" in c.data or c.data in ("not-a-secret",)]
    # the text itself is still shown to the user
    assert "::error::forged from the build" in run.stdout
    assert "partial ::warning::forged across frames" in run.stdout


def test_server_error_text_cannot_run_commands(act, emulator, workspace: Path) -> None:
    make_prebuilt(workspace)
    body = json.dumps({"error": {"code": "RESOURCE_NOT_FOUND",
                                 "message": "App not found\n::set-output name=url::https://evil.test\n##[error]x",
                                 "remediation": "::error::forged"}})
    emulator.add_fault(method="POST", path=r"/edge-ssr/deployments$", status=404, body=body,
                       content_type="application/json", times=1)
    run = act(flow="prebuilt")
    assert run.code == 1
    errors = [c for c in _commands(run) if c.name == "error"]
    assert len(errors) == 1 and {c.name for c in _commands(run)} <= OURS
    assert run.outputs["url"] == ""


def test_server_values_cannot_forge_outputs(act, emulator, workspace: Path) -> None:
    make_prebuilt(workspace)
    first = act(flow="prebuilt")
    deployment_id = first.outputs["deployment_id"]
    forged_url = "https://x.test\nstatus<<EOF\nREADY-FORGED\nEOF\ninjected=1"
    body = json.dumps({"id": deployment_id, "status": "READY", "url": forged_url, "error": None})
    emulator.add_fault(method="GET", path=rf"/deployments/{deployment_id}$", status=200, body=body,
                       content_type="application/json", times=0)
    run = act(deployment_id=deployment_id)
    assert set(run.outputs) == {"url", "deployment_id", "status", "build_id", "lockfile_hash", "deployments"}
    assert run.outputs["status"] == "READY"
    assert "\n" not in run.outputs["url"] and "injected" not in run.outputs


def test_canaries_never_reach_logs_outputs_or_summary(act, emulator, workspace: Path) -> None:
    make_source(workspace, build_js="console.log('env:', process.env.TOKEN_A, process.env.TOKEN_B); process.exit(1);")
    secrets = {"TOKEN_A": "canary-aaaa-1111", "TOKEN_B": "canary-bbbb-2222"}
    failed = act(flow="source", build_command="npm run build", output_dir="dist",
                 user_env="\n".join(f"{k}={v}" for k, v in secrets.items()))
    make_prebuilt(workspace)
    passed = act(flow="prebuilt", user_env="TOKEN_A: canary-aaaa-1111")
    assert failed.code == 1 and passed.code == 0
    for run in (failed, passed):
        visible = "\n".join(line for line in run.stdout.splitlines() if not line.startswith("::add-mask::"))
        everything = "\n".join([visible, run.stderr, run.summary, json.dumps(run.outputs)])
        for value in [emulator.api_key, *secrets.values()]:
            assert value not in everything, CANARY_KEY_NOTE
        assert "X-Amz-Signature" not in everything and "X-Amz-Credential" not in everything
    assert "env: *** ***" in failed.stdout


def test_only_secrets_are_masked(act, emulator, workspace: Path) -> None:
    make_prebuilt(workspace)
    run = act(flow="prebuilt", user_env="PUBLIC_NAME=demo-value")
    masks = {c.data for c in _commands(run) if c.name == "add-mask"}
    assert masks == {emulator.api_key, "demo-value"}
    assert run.outputs["url"] and run.outputs["url"] not in masks


def test_the_key_goes_only_to_the_api(act, emulator, workspace: Path) -> None:
    make_source(workspace)
    run = act(flow="source", build_command="npm run build", output_dir="dist")
    assert run.code == 0
    log = emulator.requests_log()
    assert {r["server"] for r in log} >= {"api", "storage"}
    for request in log:
        if request["server"] == "api":
            assert request["auth"] == "valid"
        else:
            assert "authorization" not in request["headers"] and request["auth"] == "none"
