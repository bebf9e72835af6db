"""The action's image, built from our Dockerfile and run exactly as the GitHub runner runs it."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from action_runner import read_github_output
from container.runner_like import (
    RUNNER_UID,
    ContainerRun,
    hand_to_runner_user,
    podman,
    run_like_runner,
    tree_state,
)
from workflow_commands import parse

pytestmark = pytest.mark.e2e

WORKER = """export default {
  async fetch(request, env) {
    return env.ASSETS.fetch(request);
  }
};
"""
MAX_LAYER_BYTES = 20 * 1000 * 1000


def make_prebuilt(workspace: Path) -> None:
    out = workspace / "app" / "dist"
    out.mkdir(parents=True)
    (out / "_worker.js").write_text(WORKER)
    (out / "hello.txt").write_text("hello from the container test\n")
    hand_to_runner_user(workspace)


def shown(run: ContainerRun) -> str:
    """What a reader of the job log sees: the runner consumes ::add-mask:: lines."""
    lines = (run.stdout + run.stderr).splitlines()
    return "\n".join(line for line in lines if not line.startswith("::add-mask::"))


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "work" / "repo"
    path.mkdir(parents=True)
    return path


def inputs_for(emulator, **overrides: str) -> dict[str, str]:
    # Every input of action.yml, as the runner passes them: defaults filled in for those not given.
    inputs = {
        "api_key": emulator.api_key,
        "api_url": emulator.url,
        "app_id": "app_demo",
        "flow": "prebuilt",
        "framework": "nextjs-edge",
        "working_directory": "app",
        "output_dir": "dist",
        "build_command": "npx @cloudflare/next-on-pages",
        "package_manager": "",
        "user_env": "",
        "deployment_id": "",
        "timeout": "60",
        "dry_run": "false",
        "fail_on": "error",
    }
    inputs.update(overrides)
    return inputs


def test_prebuilt_deploy_in_the_container_reaches_ready(container_env, action_image, fresh_emulator, workspace,
                                                        tmp_path):
    make_prebuilt(workspace)
    before = tree_state(workspace)

    run = run_like_runner(container_env, action_image, workspace, tmp_path / "_temp", inputs_for(fresh_emulator))

    assert run.code == 0, run.stdout + run.stderr
    outputs = read_github_output(run.output_text)
    assert outputs["status"] == "READY"
    assert outputs["url"].startswith("http://")
    assert outputs["deployment_id"]
    assert fresh_emulator.admin_deployment(outputs["deployment_id"])["status"] == "READY"
    served = requests.get(outputs["url"] + "/hello.txt", timeout=10)
    assert served.text == "hello from the container test\n"
    assert outputs["url"] in run.summary
    # The key is only ever handed to the runner to mask, never printed.
    assert fresh_emulator.api_key not in shown(run)
    assert fresh_emulator.api_key not in run.output_text + run.summary
    # Nothing left behind in the workspace, and nothing there now belongs to root.
    after = tree_state(workspace)
    assert after == before
    assert set(after.values()) <= {RUNNER_UID}


def test_bad_input_fails_with_one_error_line_and_still_sets_outputs(container_env, action_image, fresh_emulator,
                                                                     workspace, tmp_path):
    make_prebuilt(workspace)
    before = tree_state(workspace)

    run = run_like_runner(container_env, action_image, workspace, tmp_path / "_temp",
                          inputs_for(fresh_emulator, flow="sideways"))

    assert run.code == 1, run.stdout + run.stderr
    errors = [command for command in parse(run.stdout) if command.name == "error"]
    assert len(errors) == 1, run.stdout
    assert "flow" in errors[0].data
    assert "Traceback" not in run.stdout + run.stderr
    outputs = read_github_output(run.output_text)
    assert outputs["status"] == "ERROR"
    assert {"url", "deployment_id", "status"} <= set(outputs)
    assert fresh_emulator.api_key not in shown(run)
    assert not [r for r in fresh_emulator.requests_log() if r["server"] == "api"]
    assert tree_state(workspace) == before


def test_rejected_key_fails_without_printing_it(container_env, action_image, fresh_emulator, workspace, tmp_path):
    make_prebuilt(workspace)
    wrong_key = "bb_sk_" + "f" * 40

    run = run_like_runner(container_env, action_image, workspace, tmp_path / "_temp",
                          inputs_for(fresh_emulator, api_key=wrong_key))

    assert run.code == 1, run.stdout + run.stderr
    assert len([c for c in parse(run.stdout) if c.name == "error"]) == 1, run.stdout
    assert read_github_output(run.output_text)["status"] == "ERROR"
    assert wrong_key not in shown(run) and wrong_key not in run.output_text + run.summary


def test_image_holds_only_the_action(container_env, action_image):
    listing = podman(container_env, "run", "--rm", "--entrypoint", "sh", action_image, "-c",
                     "cd /app && find . -not -path './src/butterbase_edge_deploy/*' | sort")
    assert listing.stdout.split() == [".", "./entrypoint.py", "./requirements.lock", "./src",
                                      "./src/butterbase_edge_deploy"]
    probe = podman(container_env, "run", "--rm", "--entrypoint", "python", action_image, "-c",
                   "import importlib.util as u; "
                   "print([m for m in ('butterbase_emulator', 'github', 'pytest') if u.find_spec(m)])")
    assert probe.stdout.strip() == "[]"


def test_image_adds_at_most_20_mb_to_its_base(container_env, action_image):
    env = container_env
    base = podman(env, "image", "inspect", "--format", "{{.Size}}", "localhost/python:3.12-slim").stdout
    image = podman(env, "image", "inspect", "--format", "{{.Size}}", action_image).stdout
    added = int(image) - int(base)
    assert 0 < added <= MAX_LAYER_BYTES, f"the action adds {added / 1e6:.1f} MB"
